"""`ray-xr data show|check|fetch`: look at local files through a task's reader, check every split
a sweep needs before anything trains (local and synthetic splits loaded, hub splits resolved
offline against the hub table), and the preflight of a real run: download a hub sweep's data and
model and check every split against its task. No torch, no Ray."""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Sequence

from ray_xr.plan.config import EMBEDDED_MODEL
from ray_xr.data.examples import Answer, Classification, Example, MultipleChoice, Tagging, scored
from ray_xr.data.formats import missing_language
from ray_xr.errors import DataError
from ray_xr.tasks import LoadContext, get_task, hub, load, local, published, sizes


def label_counts(examples: Sequence[Example]) -> Counter:
    """Labels of classification and choice examples, tags of tagged tokens; QA and retrieval
    examples have none."""
    counts: Counter = Counter()
    for e in examples:
        if isinstance(e, Tagging):
            counts.update(e.tags)
        elif isinstance(e, (Classification, MultipleChoice)):
            counts[str(e.label)] += 1
    return counts


def read_files(task: str, paths: Sequence[str], lang: str | None) -> list[Example]:
    """Files in the task's own published format, checked as a run would check them."""
    spec = get_task(task)
    layout = spec.local
    if layout is None:
        raise DataError(f"task {task}: no local file format (it reads: {', '.join(spec.source_names)})")
    if len(paths) % layout.arity:
        raise DataError(f"task {task}: {layout.format} files come in groups of {layout.arity}"
                             f" (aligned query and target files); got {len(paths)} file(s)")
    if lang is not None and not layout.by_language:
        raise DataError(f"task {task}: its files hold one language each; --lang selects rows of"
                             " multi-language files only")
    groups = [tuple(paths[i:i + layout.arity]) for i in range(0, len(paths), layout.arity)]
    examples = local.read(layout.format, groups, spec.labels, lang)
    if lang is not None and not scored(examples):  # a pool without queries: the files name their language
        present = {Path(p).stem.rsplit(".", 1)[-1] for group in groups for p in group}
        raise missing_language(f"task {task} ({len(paths)} file(s))", lang, present, "questions")
    return examples


def show(task: str, paths: Sequence[str], lang: str | None, as_json: bool, first: int = 3) -> str:
    """Counts and the first examples; a ranking task's pool is counted apart from its queries."""
    examples = read_files(task, paths, lang)
    counts, queries = label_counts(examples), scored(examples)
    pool = len(examples) - len(queries)
    if as_json:
        return json.dumps({"examples": len(queries), "labels": dict(sorted(counts.items())),
                           **({"candidates": pool} if pool else {})})
    lines = [f"{task}: {len(queries)} examples" + (f" and {pool} candidates" if pool else "")
             + f" ({get_task(task).local.format})"]
    if counts:
        total = sum(counts.values())
        lines.append("labels: " + ", ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in counts.most_common()))
    return "\n".join(lines + [""] + example_table(queries[:first]))


_CELL = 48  # characters a cell keeps, so that a row of a sentence pair fits a wide terminal line


def _cells(example: Example) -> dict[str, str]:
    """Column -> text of one example: its fields, a tagged sentence as word/TAG pairs, tuples
    (choices, answers, relevance keys) joined with ' | '."""
    if isinstance(example, Tagging):
        return {"id": example.id, "words/tags": " ".join(f"{w}/{t}" for w, t in zip(example.words, example.tags))}
    out = {}
    for field in dataclasses.fields(example):
        value = getattr(example, field.name)
        if isinstance(value, tuple):
            value = " | ".join(v.text if isinstance(v, Answer) else str(v) for v in value)
        text = "" if value is None else " ".join(str(value).split())
        out[field.name] = text if len(text) <= _CELL else text[:_CELL - 1] + "…"
    return out


def example_table(examples: Sequence[Example]) -> list[str]:
    """Examples as an aligned text table, one row each (`data show`; --json has counts only)."""
    rows = [_cells(e) for e in examples]
    if not rows:
        return []
    header = list(rows[0])
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in header}
    lines = [[c.ljust(widths[c]) for c in header]] + [[r.get(c, "").ljust(widths[c]) for c in header] for r in rows]
    return ["  " + "  ".join(line).rstrip() for line in lines]


def needed_splits(plan) -> list[tuple[str, str, str, dict]]:
    """(task, split, language, data spec) of everything the plan's stages load, each once."""
    seen: dict[tuple[str, str, str], dict] = {}
    for stage in plan.stages.values():
        spec = stage.spec
        if stage.phase in ("intermediate", "target"):
            # a multi-task stage reads each of its tasks
            for task, setting in spec.get("tasks", {spec["task"]: spec}).items():
                for split in setting["data"]["sizes"]:
                    seen.setdefault((task, split, plan.sweep.data.source_language), setting["data"])
        elif stage.phase == "eval":
            seen.setdefault((spec["task"], "test", spec["language"]), spec["data"])
        for task, setting in spec.get("corpus", {}).items():  # pretraining text (embedded.corpus_tasks)
            seen.setdefault((task, "train", plan.sweep.data.source_language), setting)
    return [(*key, d) for key, d in seen.items()]


def check(plan) -> tuple[str, list[str]]:
    """A table of example counts per (task, split, language), loaded (local, synthetic) or, for
    the hub, the sources it resolves to offline and who pins them, and the problems found."""
    rows, problems = [("task", "split", "language", "examples", "source", "pinned")], []
    for task, split, lang, spec in needed_splits(plan):
        if spec["source"] == "hub":
            n, source, problem = _hub_row(task, split, lang)
            pinned = _pinned(load.hub_refs(task, split, lang), _lock_sources(plan)) if not problem else ""
        else:
            (n, source, problem), pinned = _load_row(task, split, lang, spec), ""
        if problem:
            problems.append(f"{task} {split} {lang}: {problem}")
        rows.append((task, split, lang, n, source, pinned))
    rows += [(*row, "", "") for row in _published_rows(plan, problems)]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
    return table, problems


def _lock_sources(plan) -> dict:
    return plan.sweep.lock.sources if plan.sweep.lock else {}


def _pinned(refs, sources) -> str:
    """Who pins every source of a row (registry, lock, both), or "no" when one is not pinned."""
    by = [hub.pinned_by(r, sources) for r in refs]
    return "+".join(sorted(set(by))) if None not in by else "no"


def hub_sources(plan) -> list:
    """Every hub reference the plan reads, each once, in order."""
    return list(dict.fromkeys(r for task, split, lang, spec in needed_splits(plan) if spec["source"] == "hub"
                              for r in load.hub_refs(task, split, lang)))


def unpinned(plan) -> list:
    """The hub references neither the registry nor the sweep's lock file pins."""
    sources = _lock_sources(plan)
    return [r for r in hub_sources(plan) if hub.check(r) is None and hub.pinned_by(r, sources) is None]


def unpinned_model(plan) -> str | None:
    """The sweep's hub model when the lock pins no commit of it; None for the embedded model, a
    local folder, or a pinned one."""
    name, locked = plan.sweep.model, plan.sweep.lock.model if plan.sweep.lock else None
    if name == EMBEDDED_MODEL or Path(name).is_dir() or (locked and locked["name"] == name):
        return None
    return name


def _load_row(task: str, split: str, lang: str, spec: dict) -> tuple[str, str, str | None]:
    try:
        examples = load.load_split(task, split, lang, spec)
    except Exception as err:  # the checker reports every failure, whatever raised it
        return "ERROR", "", str(err)
    queries = len(scored(examples))
    return f"{queries}" + (f" (+{len(examples) - queries} candidates)" if len(examples) > queries else ""), "", None


def _hub_row(task: str, split: str, lang: str) -> tuple[str, str, str | None]:
    """Resolved offline: what the split reads, and the first reference the hub table lacks."""
    refs = load.hub_refs(task, split, lang)
    if not refs:
        return "ERROR", "hub", f"task {task} has no hub source; name its directory in data.local.{task}"
    problem = next((p for p in map(hub.check, refs) if p), None)
    return ("ERROR" if problem else "-"), "; ".join(map(str, refs)), problem


def references(plan) -> list[dict]:
    """What `data check --json` lists: one entry per hub reference of each (task, split, language)
    the sweep reads, with the revision it is read at (the lock's commit, else the table's), its
    form and whether the table's facts about it were verified."""
    sources = _lock_sources(plan)
    return [{"task": task, "split": split, "language": lang, **hub.describe(ref, sources)}
            for task, split, lang, spec in needed_splits(plan) if spec["source"] == "hub"
            for ref in load.hub_refs(task, split, lang) if hub.check(ref) is None]


def unverified(plan) -> list[str]:
    """One line per hub source of the sweep that rests on a fact the table could not establish."""
    return [line for line in map(hub.unverified, hub_sources(plan)) if line]


def fetch(plan, log=print) -> tuple[list, list[str], dict | None]:
    """The preflight of a real run: download every hub source the plan reads (each once, at the
    lock's pins where it has some) and the hub model, then read every hub split through its task's
    loader, whole, checking its columns and label names (the loaders do) and its row count against
    tasks/sizes.py (off by more than 1% is a problem). Returns the sources read, one line per
    problem (an unreachable hub stops at the first), and the model's {name, revision}."""
    refs, sources, problems, failed = hub_sources(plan), _lock_sources(plan), [], set()
    for i, ref in enumerate(refs, start=1):
        log(f"[{i}/{len(refs)}] {ref}", flush=True)
        try:
            log(f"        {_read(ref, sources)}", flush=True)
        except DataError as err:
            problems.append(str(err))
            failed.add(ref)
            if hub.OFFLINE_HINT in str(err):  # every other source would fail the same way
                return [r for r in refs if str(r) in hub.READ], problems, None
    for task, split, lang, spec in needed_splits(plan):
        if spec["source"] == "hub" and not failed.intersection(load.hub_refs(task, split, lang)):
            problem = _split_problem(task, split, lang, sources)
            problems += [f"{task} {split} {lang}: {problem}"] if problem else []
    model = _model(plan, problems, log)
    return [r for r in refs if r not in failed], problems, model


def _read(ref, sources) -> str:
    """Download one source; what was read, for the progress line."""
    problem = hub.check(ref)
    if problem:
        raise DataError(problem)
    if isinstance(ref, hub.Hub):
        found = len(hub.rows(ref, sources))
        return f"{found:,} rows, revision {hub.READ[str(ref)]['revision'] or 'unknown'}"
    hub.fetch(ref, sources)
    return ", ".join(f"{k} sha256 {v[:12]}" for k, v in hub.READ[str(ref)].items())


ROW_TOLERANCE = 0.01  # a full split whose row count is further than this from tasks/sizes.py's


def _split_problem(task: str, split: str, lang: str, sources) -> str | None:
    """What is wrong with a whole hub split, read by its task's own loader; None if nothing."""
    spec = get_task(task)
    try:
        found = len(scored(list(spec.sources["hub"](split, lang, LoadContext(pins=sources)))))
    except DataError as err:
        return str(err)
    size = sizes.size_of(task)
    expected = size.examples(split, lang)
    if size.approx or not expected or abs(found - expected) <= ROW_TOLERANCE * expected:
        return None  # approximate sizes (rounded per-language test sets) cannot arbitrate
    off = 100 * (found - expected) / expected
    return f"{found:,} rows, but ray_xr/tasks/sizes.py expects {expected:,} ({off:+.1f}%, more than {ROW_TOLERANCE:.0%} off)"


def _model(plan, problems: list[str], log) -> dict | None:
    """The hub model's tokenizer and weights in the HF cache, at the lock's commit if it pins one."""
    name = plan.sweep.model
    if name == EMBEDDED_MODEL or Path(name).is_dir():
        return None
    locked = None if unpinned_model(plan) else plan.sweep.lock.model
    revision = locked["revision"] if locked else None
    log(f"[model] {name}", flush=True)
    try:
        folder, commit = hub.model_snapshot(name, revision)
    except DataError as err:
        problems.append(str(err))
        return None
    log(f"        revision {commit} ({folder})", flush=True)
    config_file = Path(folder) / "config.json"  # a repository without one fails at its first load instead
    model_config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    lengths = {(f"{s.phase}_training.max_length", s.training.max_length) for s in plan.stages.values()
               if s.phase in ("intermediate", "target")}
    problems.extend(filter(None, (hub.too_long(n, model_config, name, f) for f, n in sorted(lengths))))
    return {"name": name, "revision": commit}


def _published_rows(plan, problems: list[str]) -> list[tuple[str, str, str, str]]:
    """Each published noisy set the sweep evaluates, aligned to its clean test split (refused
    with one line if it does not align), so `data check` and `run` fail before training."""
    rows, seen = [], set()
    for stage in plan.stages.values():
        spec = stage.spec
        if stage.phase != "eval" or "published" not in spec or (spec["task"], spec["language"]) in seen:
            continue
        task, lang = spec["task"], spec["language"]
        seen.add((task, lang))
        try:
            path = published.fetch(plan.sweep.noise.published, task, lang)
            found = load.published_alignment(load.load_split(task, "test", lang, spec["data"]), task, lang, path)
            rows.append((task, f"test {spec['noise']}", lang, f"{len(found.pairs)} of {found.noisy} aligned"))
        except Exception as err:  # reported with the others, as above
            rows.append((task, f"test {spec['noise']}", lang, "ERROR"))
            problems.append(f"{task} test {spec['noise']} {lang}: {err}")
    return rows
