"""The stage graph of a sweep: every unique stage once, keyed by the content it depends on.

pretrain -> intermediate (task, seed) -> target (intermediate, task, seed) -> eval (target model,
noise kind, level, language). A stage's key hashes its spec and its parent's key, so stages
that several grid cells share collapse into one, and noise levels never cause retraining.
May import: config.py, tasks, noise (never run, report, torch or ray): `ray-xr plan` runs on a laptop.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ray_xr.plan.config import EMBEDDED_MODEL, Sweep, Variant
from ray_xr.plan.settings import Phase
from ray_xr.noise import NOISE_KINDS, resource_file
from ray_xr.noise.tables import file_digest
from ray_xr.stages import data_fingerprint, library_versions
from ray_xr.tasks import FAMILY_OPTIONS, get_task, lock, published
from ray_xr.tasks.load import hub_refs

PHASES = ("pretrain", "intermediate", "target", "eval")
# The implementation version of each phase, part of its stages' keys (and so of everything
# downstream). Bump a phase's number with any change that changes its numbers (a bug fix in
# training, evaluation, noise or scoring), so that finished stages are never reused with stale
# results; README "Stage keys" says when.
# 3: UD-POS read with fused multiword tokens (pretraining text, training and test data), dev
# sets without test items, QA answers, Tatoeba's direction and realised rates as XTREME's scripts.
# eval 4: char and keyboard noise edit grapheme clusters and draw from per-language inventories.
VERSIONS = {"pretrain": 3, "intermediate": 3, "target": 3, "eval": 4}
# Libraries whose versions change numbers: part of the pretraining key, so of every key.
KEYED_LIBRARIES = ("torch", "transformers", "tokenizers")


@dataclass(frozen=True)
class Stage:
    key: str
    phase: str
    spec: dict  # everything the stage's result depends on (besides its parent)
    parent: str | None
    label: str
    cells: tuple[dict, ...] = ()  # eval stages: the results.jsonl records they produce

    @property
    def trains(self) -> bool:
        return self.phase in ("intermediate", "target") or (
            self.phase == "pretrain" and (self.spec["model"] == EMBEDDED_MODEL or self.random_weights is not None))

    @property
    def training(self) -> Phase:
        """The training settings the stage's key was made from, typed again (the worker reads
        these, never a default of its own): a training stage's phase, or for pretraining the
        embedded model's."""
        return Phase.model_validate(self.spec["embedded"]["train"] if self.phase == "pretrain"
                                    else self.spec["training"])

    @property
    def random_weights(self) -> dict | None:
        """A pretrain stage of `run --smoke --random-weights`: the architecture it builds untrained."""
        return (self.spec.get("smoke") or {}).get("random_weights")


@dataclass(frozen=True)
class Group:
    """Stages that run back to back in one TorchTrainer (one Tune trial)."""

    name: str
    wave: int  # its depth: it reads models of groups of lower depth only (the trials start by need)
    stages: tuple[str, ...]
    info: dict = field(default_factory=dict)  # shown as the Tune trial's config


@dataclass(frozen=True)
class Plan:
    sweep: Sweep
    stages: dict[str, Stage]
    groups: tuple[Group, ...]
    cells: int

    def count(self, phase: str) -> int:
        return sum(s.phase == phase for s in self.stages.values())

    def summary(self) -> dict:
        return {"name": self.sweep.name, "cells": self.cells,
                "stages": {p: self.count(p) for p in PHASES},
                "trials": len(self.groups), "waves": 1 + max((g.wave for g in self.groups), default=-1)}


def stage_key(phase: str, spec: dict, parent: str | None) -> str:
    """The hash of the whole spec, the phase's implementation version and the parent's key.
    Local data directories enter by content (stages.data_fingerprint), not by where they are
    mounted, so a run folder is reused from any mount point."""
    blob = json.dumps({"phase": phase, "version": VERSIONS[phase], "spec": _identity(spec), "parent": parent},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _identity(value):
    """The spec with each data.local entry's `dir` replaced by the fingerprint of its files."""
    if not isinstance(value, dict):
        return value
    return {k: {task: {**entry, "dir": data_fingerprint(entry["dir"])} for task, entry in v.items()}
            if k == "local" else _identity(v) for k, v in value.items()}


def _add(stages: dict[str, Stage], phase: str, spec: dict, parent: str | None, label: str,
         cells: tuple[dict, ...] = ()) -> str:
    key = stage_key(phase, spec, parent)
    if key in stages:  # shared by several cells: merge the records it serves
        old = stages[key]
        stages[key] = Stage(key, phase, spec, parent, old.label, old.cells + cells)
    else:
        stages[key] = Stage(key, phase, spec, parent, label, cells)
    return key


def _data_spec(sweep: Sweep, splits: tuple[str, ...], task: str, lang: str | None = None,
               variant: Variant | None = None) -> dict:
    """How a task's splits are read in `lang` (training: the source language), with a variant's
    sizes where it sets them."""
    d = sweep.data
    sizes = {"train": d.train_size, "dev": d.dev_size, "test": d.test_size}
    source = sweep.source_of(task)
    spec = {"source": source, "sizes": {s: sizes[s] for s in splits},
            "seed": d.seed if source == "synthetic" else None, "local": sweep.local_entries(task)}
    for split in ("train", "dev") if variant is not None else ():
        size = getattr(variant, f"{split}_size")
        if size is None or split not in splits:
            continue
        if size >= 1 or spec["sizes"][split]:  # a count, or a fraction of a cap
            spec["sizes"][split] = int(size) if size >= 1 else max(1, round(size * spec["sizes"][split]))
        else:  # a fraction of a split read whole (tasks.load draws it)
            spec.setdefault("fractions", {})[split] = size
    if source != "hub":
        return spec
    # What the hub splits read (datasets, configs, downloads) enters the key, so a change of
    # source re-keys exactly the stages that read it. What a lock file pins enters it too: data
    # read at another commit is other data. Absent without a lock, so keys made before locking
    # stay as they were; a lock re-keys the stages it pins (README "Pinned data")
    lang = lang or d.source_language
    spec["reads"] = sorted({str(ref) for split in splits for ref in hub_refs(task, split, lang)})
    pins = lock.pins_for(sweep.lock.sources, task, splits, lang) if sweep.lock else {}
    return spec | ({"pins": pins} if pins else {})


def noise_options(sweep: Sweep, kind: str, lang: str) -> dict:
    """What a noise condition depends on beyond (kind, level, seed, language): the protection
    option and the content of the file the kind reads (None for kinds that read none)."""
    if kind == "clean":
        return {"protect": False, "resource_sha256": None}
    path = resource_file(kind, lang, sweep.noise_resources())
    return {"protect": sweep.noise.protect_entities, "resource_sha256": file_digest(path) if path else None}


def _training_spec(sweep: Sweep, phase: str, task: str, seed: int, training, variant: Variant | None = None) -> dict:
    parts = task.split("+")
    # a task without a test-free dev set keeps the last epoch (TaskSpec.model_selection); "last"
    # reads no dev split, so its data spec leaves it out
    if any(get_task(t).model_selection == "last" for t in parts):
        training = training.model_copy(update={"model_selection": "last"})
    spec = {"task": task, "seed": seed, "training": training.model_dump(mode="json"), **_compute(sweep),
            "workers": max(1, sweep.resources.workers),  # data-parallel training is not worker-invariant
            "compile": sweep.resources.compile}  # compiled kernels round differently
    splits = ("train", "dev") if training.model_selection == "dev" else ("train",)
    if len(parts) == 1:
        spec.update(data=_data_spec(sweep, splits, task, variant=variant), options=_options(sweep, task))
    else:  # multi-task intermediate training
        spec.update(sampling=sweep.multitask.model_dump(mode="json"),
                    tasks={t: {"data": _data_spec(sweep, splits, t, variant=variant), "options": _options(sweep, t)}
                           for t in parts})
    if variant is not None:  # its name: its own key, and its own training randomness (run/worker.py)
        spec["variant"] = variant.name
    noise = sweep.train_noise.get(phase)
    spec["train_noise"] = None if noise is None else {
        "kind": noise.kind, "level": noise.level, "noise_seed": sweep.noise.seed,
        **noise_options(sweep, noise.kind, sweep.data.source_language)}
    return spec


def _pretrain_spec(sweep: Sweep) -> dict:
    # the library versions that change numbers enter here, and so every key downstream; so does
    # a smoke run's block (absent otherwise, so that the keys of real runs stay as they were)
    libraries = library_versions(KEYED_LIBRARIES)
    smoke = {"smoke": sweep.smoke.model_dump(mode="json")} if sweep.smoke else {}
    if sweep.model != EMBEDDED_MODEL and not (sweep.smoke and sweep.smoke.random_weights):
        # the commit a lock pins is the weights every stage starts from (absent: unpinned, the keys as before)
        model = sweep.lock.model if sweep.lock else None
        pinned = {"revision": model["revision"]} if model and model["name"] == sweep.model else {}
        return {"model": sweep.model, **pinned, "libraries": libraries, **smoke}
    # the embedded model, or a hub architecture with random weights: both get their tokenizer here
    return {"model": sweep.model, "embedded": sweep.embedded.model_dump(mode="json", exclude={"corpus_tasks"}),
            "corpus_seed": sweep.data.seed, "libraries": libraries, **_compute(sweep), "compile": sweep.resources.compile,
            "corpus": {t: _data_spec(sweep, ("train",), t) for t in sweep.embedded.corpus_tasks}, **smoke}


def _compute(sweep: Sweep) -> dict:
    """How a stage computes, where that changes its numbers: the precision, and the threads per
    worker (CPU kernels sum in a thread-dependent order); training stages add their workers and
    whether they are compiled."""
    res = sweep.resources
    return {"precision": res.precision, "threads": res.cpus_per_worker, "deterministic": res.deterministic}


def build(sweep: Sweep) -> Plan:
    stages: dict[str, Stage] = {}
    pre = _add(stages, "pretrain", _pretrain_spec(sweep), None, f"pretrain {sweep.model}")
    chains: dict[tuple[str, int], list[str]] = {}
    placed: set[str] = set()  # evaluations of the pretrained encoder are shared by every seed's chain
    for inter in sweep.arms:
        for seed in sweep.seeds:
            chain = chains.setdefault((inter, seed), [])
            parent = pre
            if inter != "none":
                # a plain task name keys exactly as it did before variants existed
                variant = None if inter in sweep.intermediate else sweep.variant(inter)
                spec = _training_spec(sweep, "intermediate", sweep.variant(inter).task, seed,
                                      sweep.intermediate_phase(inter), variant)
                parent = _add(stages, "intermediate", spec, pre, f"intermediate {inter} seed {seed}")
                chain.append(parent)
            for target in sweep.targets:
                keys = [k for k in _target_and_evals(stages, sweep, inter, target, seed, parent) if k not in placed]
                placed.update(keys)
                chain += keys
    groups = _groups(sweep, stages, pre, chains)
    n_cells = (len(sweep.intermediate) * len(sweep.targets) * len(sweep.seeds)
               * len(sweep.noise.kinds) * len(sweep.noise.levels))
    return Plan(sweep, stages, groups, n_cells)


def _options(sweep: Sweep, task: str) -> dict:
    """The head settings a task's family reads (none for most families)."""
    spec = get_task(task)
    return {**spec.options, **{k: getattr(sweep.heads, k) for k in FAMILY_OPTIONS.get(spec.family, ())}}


def _targets(stages, sweep: Sweep, inter: str, target: str, seed: int, parent: str) -> list[str]:
    """The training stages a target needs, in order; the last one's model is what its evaluations
    load: its own fine-tuned model or, for a family without a head, the encoder fine-tuned on its
    encoder_task. None at all for a family without a head or encoder task: the parent's encoder."""
    spec = get_task(target)
    task = target if spec.trains else spec.encoder_task
    if task is None:
        return []
    keys = []
    first = get_task(task).after.get(sweep.source_of(task))
    if first is not None:
        parent = _add(stages, "target", _target_spec(sweep, first, seed), parent,
                      f"target {first} (before {task}) <- {inter} seed {seed}")
        keys.append(parent)
    label = f"target {target} <- {inter} seed {seed}" + (f" (fine-tuned on {task})" if task != target else "")
    return keys + [_add(stages, "target", _target_spec(sweep, task, seed), parent, label)]


def _target_spec(sweep: Sweep, task: str, seed: int) -> dict:
    return _training_spec(sweep, "target", task, seed, sweep.target_training)


def _target_and_evals(stages, sweep: Sweep, inter: str, target: str, seed: int, parent: str) -> list[str]:
    keys = _targets(stages, sweep, inter, target, seed, parent)
    tkey = keys[-1] if keys else parent
    for lang in sweep.target_languages(target):
        for kind in sweep.noise.kinds:
            if NOISE_KINDS[kind].published:
                _published_evals(stages, sweep, (inter, target, seed, lang, kind), tkey, keys)
                continue
            for level in sweep.noise.levels:
                # level 0 is the clean text whatever the kind: one stage serves every kind
                espec = {"task": target, "language": lang, "noise": kind if level else "clean", "level": level,
                         "noise_seed": sweep.noise.seed,
                         "data": _data_spec(sweep, ("test",), target, lang),
                         "max_length": sweep.target_training.max_length, "options": _options(sweep, target),
                         "batch_size": 2 * sweep.target_training.batch_size, **_compute(sweep),
                         **noise_options(sweep, kind if level else "clean", lang)}
                cell = {"intermediate": inter, "target": target, "seed": seed, "noise": kind,
                        "level": level, "language": lang}
                key = _add(stages, "eval", espec, tkey, f"eval {target}/{lang} {kind}@{level}", (cell,))
                if key not in keys:
                    keys.append(key)
    return keys


def _published_evals(stages, sweep: Sweep, where: tuple, tkey: str, keys: list[str]) -> None:
    """A published noisy test set (noise.published): the aligned clean examples at level 0 and
    their noisy versions at the level the file states, as two stages of the kind's own (not
    the shared clean stage), so that the clean score and the drop cover the same examples.
    Languages without a published set get no cells of the kind."""
    inter, target, seed, lang, kind = where
    found = published.find(sweep.noise.published, target, lang)
    if found is None:
        return
    path, stated = found
    for level in (0.0, stated):
        espec = {"task": target, "language": lang, "noise": kind, "level": level, "noise_seed": sweep.noise.seed,
                 "published": {"file": Path(path).name, "sha256": published.digest(sweep.noise.published, target, lang)},
                 "data": _data_spec(sweep, ("test",), target, lang),
                 "max_length": sweep.target_training.max_length,
                 "options": _options(sweep, target), "batch_size": 2 * sweep.target_training.batch_size,
                 **_compute(sweep), **noise_options(sweep, "clean", lang)}  # reads no noise file
        cell = {"intermediate": inter, "target": target, "seed": seed, "noise": kind, "level": level, "language": lang}
        key = _add(stages, "eval", espec, tkey, f"eval {target}/{lang} {kind}@{level}", (cell,))
        if key not in keys:
            keys.append(key)


def _groups(sweep: Sweep, stages: dict[str, Stage], pre: str, chains) -> tuple[Group, ...]:
    groups = [Group("pretrain", 0, (pre,), {"model": sweep.model})]
    for (inter, seed), keys in chains.items():
        info = {"intermediate": inter, "seed": seed, "targets": list(sweep.targets)}
        if sweep.resources.group_by == "chain":
            if keys:  # a later seed's chain may have nothing of its own
                groups.append(Group(f"{inter}-s{seed}", 1, tuple(keys), info))
            continue
        # one group per training stage, its evaluations riding along with it; evaluations of
        # the pretrained encoder (a family without a head after no intermediate task) on their own
        evals_of = lambda k: tuple(e for e in keys if stages[e].phase == "eval" and stages[e].parent == k)  # noqa: E731
        for key in keys:
            stage = stages[key]
            if stage.phase == "intermediate":
                groups.append(Group(f"{inter}-s{seed}", 1, (key,) + evals_of(key), info))
            elif stage.phase == "target" and key not in {stages[k].parent for k in keys if stages[k].phase == "target"}:
                # a target trained after another (XCOPA after SocialIQA) takes that one along
                first = (stage.parent,) if stages[stage.parent].phase == "target" else ()
                groups.append(Group(f"{inter}-{stage.spec['task']}-s{seed}", 2 if inter != "none" else 1,
                                    first + (key,) + evals_of(key), {**info, "targets": [stage.spec["task"]]}))
        if evals_of(pre):
            groups.append(Group(f"{inter}-encoder-s{seed}", 1, evals_of(pre), info))
    return tuple(groups)


def recorded(plan: Plan) -> dict:
    """The plan as the run records it (RUN_DIR/plan.json): every stage's key, phase, label and
    parent. `ray-xr status` reads it and never builds the plan again: keys computed on another
    machine (other library versions, data on other paths) would name other stages."""
    return {"name": plan.sweep.name, "stages": {k: {"phase": s.phase, "label": s.label, "parent": s.parent}
                                                for k, s in plan.stages.items()}}


def describe(plan: Plan) -> str:
    s = plan.summary()
    lines = [f"sweep {s['name']}: {s['cells']} grid cells -> "
             + ", ".join(f"{n} {p}" for p, n in s["stages"].items())
             + f" stages in {s['trials']} trials, {s['waves']} deep"]
    for group in plan.groups:
        lines.append(f"  depth {group.wave} trial {group.name}:")
        for key in group.stages:
            stage = plan.stages[key]
            if stage.phase != "eval":
                n_eval = sum(1 for k in group.stages if plan.stages[k].parent == key and plan.stages[k].phase == "eval")
                extra = f" (+{n_eval} evaluations)" if n_eval else ""
                lines.append(f"    {stage.key}  {stage.label}{extra}")
    return "\n".join(lines)
