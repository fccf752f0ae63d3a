"""Examples for a stage: the task's loader for the sweep's data source, plus noise at evaluation.

Loaded splits are cached per process, so the evaluations of one target model at every noise
level read the clean test set once.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache

from ray_xr.data.examples import Example, cap, scored
from ray_xr.errors import DataError
from ray_xr.noise import NoiseResources, resource_file
from ray_xr.noise.tables import file_digest
from ray_xr.tasks import local
from ray_xr.tasks.registry import LoadContext, get_task


def load_split(task: str, split: str, lang: str, data: dict) -> list[Example]:
    return list(_cached(task, split, lang, json.dumps(data, sort_keys=True)))


@lru_cache(maxsize=64)
def _cached(task: str, split: str, lang: str, data_json: str) -> tuple[Example, ...]:
    data = json.loads(data_json)
    spec = get_task(task)
    if data["source"] not in spec.source_names:
        raise DataError(f"task {task}: no {data['source']!r} data source (has: {', '.join(spec.source_names)})")
    ctx = LoadContext(seed=data.get("seed") or 0, sizes=data["sizes"], local=data.get("local", {}))
    if data["source"] == "local":
        loaded = local.load(task, split, lang, ctx.local, ctx.sizes.get(split, 0))
    else:
        loaded = spec.sources[data["source"]](split, lang, ctx)
    examples = tuple(cap(list(loaded), 0))  # a ranking pool after its queries
    if not scored(list(examples)):
        raise DataError(f"task {task}: the {split} split for language {lang!r} is empty")
    return examples


def noise_resources(resources: NoiseResources, kind: str, lang: str, options: dict) -> NoiseResources:
    """The sweep's noise files, after checking that the one this condition reads still has the
    content its stage key was made from (`options["resource_sha256"]`, see plan.noise_options)."""
    expected = options.get("resource_sha256")
    if expected:
        path = resource_file(kind, lang, resources)
        if path is None or file_digest(path) != expected:
            raise DataError(f"noise file {path} for {kind}/{lang} changed since the run was planned;"
                            " run the sweep again so that the affected stages get new keys")
    return resources


def noisy(examples: list[Example], task: str, kind: str, level: float, lang: str, seed: int,
          resources=None, protect: bool = False, namespace: str | None = None) -> list[Example]:
    """The examples under one noise condition; level 0 returns them untouched.

    `resources` (noise.NoiseResources) serves the kinds that read files; `protect` keeps
    entities and numbers intact (see ray_xr.noise.perturb); `namespace` names the random streams
    (default: the task name, as for evaluation; training uses "train/<task>").
    """
    if not level:
        return examples
    # lazy: the families import torch, which `data check` and the registry do without
    from ray_xr.tasks.families import FAMILIES

    family = FAMILIES[get_task(task).family]
    return [family.perturb(e, namespace=namespace or task, kind=kind, level=level, lang=lang, seed=seed,
                           resources=resources, protect=protect) for e in examples]


def realised_rate(clean: list[Example], perturbed: list[Example]) -> float:
    """Fraction of words changed, measured on the text itself (not the noise's own bookkeeping):
    the clean words outside the longest matching word blocks (difflib), so a rewritten or
    dropped word counts once and so does a swap of two neighbours."""
    changed = total = 0
    for a, b in zip(clean, perturbed):
        for wa, wb in zip(_words(a), _words(b)):
            if wa != wb:
                matcher = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
                changed += len(wa) - sum(block.size for block in matcher.get_matching_blocks())
            total += len(wa)
    return changed / total if total else 0.0


def _words(e: Example) -> list[list[str]]:
    """The words of each text noise may rewrite (the example type's NOISED fields): a string is
    one text, a tuple of strings several (choices), a tagged sentence's words one text."""
    out: list[list[str]] = []
    for name in e.NOISED:
        value = getattr(e, name)
        if isinstance(value, str):
            out.append(value.split())
        elif name == "words":
            out.append(list(value))
        elif value is not None:
            out += [text.split() for text in value]
    return out
