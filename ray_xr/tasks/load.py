"""Examples for a stage: the task's loader for the sweep's data source, plus noise at evaluation.

Loaded splits are cached per process, so the evaluations of one target model at every noise
level read the clean test set once.
"""
from __future__ import annotations

import difflib
import json
import random
from functools import lru_cache

from ray_xr.data.examples import Candidate, Example, RankQuery, SpanQA, cap, scored
from ray_xr.errors import DataError
from ray_xr.noise import NOISE_KINDS, NoiseResources, align, resource_file, split_words
from ray_xr.noise.edits import has_letter
from ray_xr.noise.tables import file_digest
from ray_xr.tasks import hub, local, published
from ray_xr.tasks.registry import LoadContext, get_task


def load_split(task: str, split: str, lang: str, data: dict) -> list[Example]:
    return list(_cached(task, split, lang, json.dumps(data, sort_keys=True)))


@lru_cache(maxsize=64)
def _cached(task: str, split: str, lang: str, data_json: str) -> tuple[Example, ...]:
    data = json.loads(data_json)
    spec = get_task(task)
    if data["source"] not in spec.source_names:
        raise DataError(f"task {task}: no {data['source']!r} data source (has: {', '.join(spec.source_names)})")
    # a data spec (plan.graph._data_spec) has every key but `pins` and `fractions`, which it holds
    # only when set (so that keys made before them stay as they were); seed is None unless synthetic
    ctx = LoadContext(seed=data["seed"] or 0, sizes=data["sizes"], local=data["local"], pins=data.get("pins", {}))
    if data["source"] == "local":
        loaded = local.load(task, split, lang, ctx.local, ctx.sizes.get(split, 0))
    else:
        try:
            loaded = spec.sources[data["source"]](split, lang, ctx)
        except DataError as err:  # a hub or download failure names its source; this says what needed it
            if data["source"] != "hub":
                raise
            raise DataError(f"task {task}, {split} split, language {lang}: {err}") from None
    examples = tuple(cap(list(loaded), 0))  # a ranking pool after its queries
    fraction = data.get("fractions", {}).get(split)
    if fraction:  # an intermediate variant's share of a split read whole: one draw, whatever the seed
        draw = random.Random(f"{task}/{split}/{fraction}")
        keep = draw.sample(range(len(examples)), max(1, round(fraction * len(examples))))
        examples = tuple(examples[i] for i in sorted(keep))
    if split == "dev" and spec.dev_excludes and data["source"] != "synthetic":  # synthetic streams share nothing
        examples = _without_test_items(task, examples, data)
    if not scored(list(examples)):
        raise DataError(f"task {task}: the {split} split for language {lang!r} is empty")
    return examples


def hub_refs(task: str, split: str, lang: str) -> tuple:
    """What a hub split reads (tasks.hub references), the test sets its dev split leaves out
    included; empty when the task has no hub copy."""
    spec = get_task(task)
    refs = spec.hub(split, lang) if spec.hub else ()
    if split == "dev" and refs:
        refs += tuple(r for other, other_lang in spec.dev_excludes for r in hub_refs(other, "test", other_lang))
    return tuple(dict.fromkeys(refs))


def data_sources(spec: dict, source_language: str) -> dict:
    """What a stage's hub splits were read from, for its stage.json: each hub reference with the
    dataset commit or the files' sha256 this process saw (tasks.hub.READ) and who pinned them
    ("registry", "lock" or None: what was read equals a pin, or the read failed); {} without the hub."""
    if "language" in spec:  # an evaluation: its test split
        wanted = [(spec["task"], "test", spec["language"], spec["data"])]
    else:  # a training stage, multi-task or not: its splits in the source language
        wanted = [(task, split, source_language, setting["data"])
                  for task, setting in spec.get("tasks", {spec.get("task"): spec}).items() if "data" in setting
                  for split in setting["data"]["sizes"]]
    read = {str(ref): {"read": hub.READ.get(str(ref)), "pinned": hub.pinned_by(ref, data.get("pins", {}))}
            for task, split, lang, data in wanted if data["source"] == "hub" for ref in hub_refs(task, split, lang)}
    return {"data_sources": read} if read else {}


def _without_test_items(task: str, examples: tuple[Example, ...], data: dict) -> tuple[Example, ...]:
    """The dev examples sharing no question id, answer key or paragraph with the test sets the
    spec names (read whole, from the same source)."""
    ids: set[str] = set()
    contexts: set[str] = set()
    for other, lang in get_task(task).dev_excludes:
        if data["source"] == "local" and other not in data["local"]:
            raise DataError(f"task {task}: its dev set holds {other}'s test items; set data.local.{other} so"
                            " that they can be left out, or select with model_selection: last")
        for e in _cached(other, "test", lang, json.dumps({**data, "sizes": {}}, sort_keys=True)):
            ids.update(getattr(e, "relevant", ()) or ((e.id,) if isinstance(e, SpanQA) else ()))
            if isinstance(e, (SpanQA, Candidate)):
                contexts.add(e.context)
    kept = tuple(e for e in examples if not _shares(e, ids, contexts))
    if not scored(list(kept)):
        raise DataError(f"task {task}: every dev example is also a test item of"
                        f" {', '.join(t for t, _ in get_task(task).dev_excludes)}; select with model_selection: last")
    return kept


def _shares(e: Example, ids: set[str], contexts: set[str]) -> bool:
    if isinstance(e, SpanQA):
        return e.id in ids or e.context in contexts
    if isinstance(e, RankQuery):
        return bool(ids.intersection(e.relevant))
    return isinstance(e, Candidate) and e.context in contexts


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


def published_condition(clean: list[Example], task: str, spec: dict, sweep) -> tuple[list[Example], list[Example]]:
    """A published noisy set's condition (plan._published_evals): the clean examples it aligns
    to and, at its level, their noisy versions; level 0 evaluates the aligned clean ones, so the
    clean score and the drop are computed on exactly the same examples."""
    path = published.fetch(sweep.noise.published, task, spec["language"])
    if file_digest(path) != spec["published"]["sha256"]:
        raise DataError(f"published noisy set {path} changed since the run was planned;"
                        " run the sweep again so that the affected stages get new keys")
    pairs = published_alignment(clean, task, spec["language"], path).pairs
    originals = [c for c, _ in pairs]
    return originals, ([n for _, n in pairs] if spec["level"] else originals)


def published_alignment(clean: list[Example], task: str, lang: str, path: str) -> align.Alignment:
    """The published noisy file of a task, read by the task's own reader and aligned to `clean`."""
    spec = get_task(task)
    examples = local.read(spec.local.format, [(path,)], spec.labels, lang if spec.local.by_language else None)
    return align.align(clean, examples, what=path)


def realised_rate(clean: list[Example], perturbed: list[Example], lang: str, kind: str) -> float:
    """Fraction of the units the noise acts on that it changed, measured on the text itself (not
    the noise's own bookkeeping), in the units the level is defined in: words, and characters
    in languages written without spaces (th, ja, zh: noise.split_words), and, for the kinds that
    rewrite words, only units with a letter (punctuation and digits are not eligible, so they do
    not dilute the rate). Changes are the units outside the longest matching blocks (difflib):
    a rewritten unit counts once, and so does a dropped word or a swap of two neighbours for the
    kinds that move words; for the others an inserted unit counts too (a character added to a
    one-character word of unspaced text leaves every clean unit in place), see _changed."""
    moves = NOISE_KINDS[kind].moves_words if kind in NOISE_KINDS else False
    changed = total = 0
    for a, b in zip(clean, perturbed):
        for wa, wb in zip(_units(a, lang), _units(b, lang)):
            if wa != wb:
                changed += _changed(wa, wb, moves)
            total += len(wa) if moves else sum(map(has_letter, wa))
    return min(changed / total, 1.0) if total else 0.0


def _changed(wa: list[str], wb: list[str], moves: bool) -> int:
    """Changed units between a clean and a perturbed text. Each differing stretch counts its
    units, but no more than the character edits between them (optimal string alignment: a
    transposition is one edit): a Thai tone mark moved by a transposition re-attaches to the
    neighbouring character, which changes two units for one edit."""
    matcher = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    if moves:
        return len(wa) - sum(block.size for block in matcher.get_matching_blocks())
    return sum(min(max(i2 - i1, j2 - j1), _edits("".join(wa[i1:i2]), "".join(wb[j1:j2])))
               for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal")


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    prev2, prev = [], list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _units(e: Example, lang: str) -> list[list[str]]:
    """The units of each text noise may rewrite (the example type's NOISED fields): a string is
    one text, a tuple of strings several (choices), a tagged sentence's words one text (noise
    takes a tagged word as one unit in every language)."""
    out: list[list[str]] = []
    for name in e.NOISED:
        value = getattr(e, name)
        if isinstance(value, str):
            out.append(split_words(value, lang)[0])
        elif name == "words":
            out.append(list(value))
        elif value is not None:
            out += [split_words(text, lang)[0] for text in value]
    return out
