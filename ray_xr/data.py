"""Examples for a stage: the task's loader for the sweep's data source, plus noise at evaluation.

Loaded splits are cached per process, so the evaluations of one target model at every noise
level read the clean test set once.
"""
from __future__ import annotations

import json
from functools import lru_cache

from ray_xr.examples import Example
from ray_xr.tasks import LoadContext, get_task


class DataError(ValueError):
    """Missing or malformed data; one line naming the task, split and language."""


def load_split(task: str, split: str, lang: str, data: dict) -> list[Example]:
    return list(_cached(task, split, lang, json.dumps(data, sort_keys=True)))


@lru_cache(maxsize=64)
def _cached(task: str, split: str, lang: str, data_json: str) -> tuple[Example, ...]:
    data = json.loads(data_json)
    spec = get_task(task)
    loader = spec.sources.get(data["source"])
    if loader is None:
        raise DataError(f"task {task}: no {data['source']!r} data source (has: {', '.join(spec.sources)})")
    ctx = LoadContext(seed=data.get("seed", 0), sizes=data["sizes"], local=data.get("local", {}))
    examples = tuple(loader(split, lang, ctx))
    if not examples:
        raise DataError(f"task {task}: the {split} split for language {lang!r} is empty")
    return examples


def noisy(examples: list[Example], task: str, kind: str, level: float, lang: str, seed: int) -> list[Example]:
    """The examples under one noise condition; level 0 returns them untouched."""
    if not level:
        return examples
    from ray_xr.tasks.families import FAMILIES  # torch: only where noise is applied

    family = FAMILIES[get_task(task).family]
    return [family.perturb(e, namespace=task, kind=kind, level=level, lang=lang, seed=seed) for e in examples]


def realised_rate(clean: list[Example], perturbed: list[Example]) -> float:
    """Fraction of words changed, measured on the text itself (not the noise's own bookkeeping)."""
    changed = total = 0
    for a, b in zip(clean, perturbed):
        for wa, wb in zip(_words(a), _words(b)):
            changed += sum(x != y for x, y in zip(wa, wb)) + abs(len(wa) - len(wb))
            total += len(wa)
    return changed / total if total else 0.0


def _words(e: Example) -> list[list[str]]:
    fields = [getattr(e, name) for name in ("text_a", "text_b", "text", "question", "context", "query")
              if isinstance(getattr(e, name, None), str)]
    return [f.split() for f in fields] + ([list(e.words)] if hasattr(e, "words") else [])
