"""The `local` data source: a task's files in its published format under a directory.

A spec declares its layout: the format (a key of readers.READERS) and, per split, candidate
path patterns relative to the task's directory; the first candidate that matches any file is
used, and a glob matching several files concatenates them in file-name order, whatever folders
hold them (UD ships one file per treebank; XTREME joins a language's treebanks by file name).
Patterns may use {lang}, {split} and {name} (the name the files give the language). A split
may instead come from another task (XNLI trains on MNLI): ``From("mnli", "train")``.

A sweep names each task's directory and may point single splits at other files
(``data.local`` in plan/config.py); relative paths there are resolved against the task directory.
Cheap to import: no torch.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from ray_xr.data import readers
from ray_xr.data.examples import Example, cap
from ray_xr.errors import DataError
from ray_xr.tasks.registry import From, get_task

def task_entry(local: Mapping, task: str) -> Mapping:
    """The sweep's `data.local` entry of a task: {"dir": ..., "files": {...}}."""
    if task not in local:
        raise DataError(f"task {task}: no local directory (set data.local.{task} in the sweep)")
    return local[task]


@dataclass(frozen=True)
class Files:
    """What one split in one language is read from."""

    task: str  # whose files (after following From links)
    format: str
    paths: list[tuple[str, ...]]  # each tuple is one reader call (Tatoeba: the two aligned files)
    by_language: bool


def resolve(task: str, split: str, lang: str, local: Mapping) -> Files:

    layout, entry = get_task(task).local, task_entry(local, task)
    override = entry.get("files", {}).get(split)
    if override is not None:
        fmt, candidates = override.get("format") or layout.format, (override["path"],)
    else:
        spec = layout.files.get(split)
        if spec is None:
            raise DataError(f"task {task}: its local layout has no {split} split; point data.local.{task}"
                            f".files.{split} at a file")
        if isinstance(spec, From):
            files = resolve(spec.task, spec.split, lang, local)
            return replace(files, format=spec.format) if spec.format else files
        fmt, candidates = layout.format, spec
    root = Path(entry["dir"])
    values = {"lang": lang, "split": split, "name": layout.names.get(lang, lang)}
    for pattern in candidates:
        parts = (pattern,) if isinstance(pattern, str) else pattern
        matches = [sorted(glob.glob(str(root / p.format(**values))), key=lambda f: (Path(f).name, f)) for p in parts]
        if all(matches):
            if len(parts) > 1 and any(len(m) > 1 for m in matches):
                raise DataError(f"task {task}: {pattern} matches several files, expected one per side")
            paths = list(zip(*matches)) if len(parts) > 1 else [(m,) for m in matches[0]]
            return Files(task, fmt, paths, layout.by_language and fmt == layout.format)
    looked = ", ".join(str(p).format(**values) for p in candidates)
    raise DataError(f"task {task}: no {split} file for language {lang!r} under {root} (looked for {looked})")


def read(fmt: str, paths: Sequence[tuple[str, ...]], labels: Sequence, lang: str | None = None) -> list[Example]:
    """Every example of the files; labels are checked against `labels` (none: no check)."""

    options = {"labels": set(labels) if labels else None}
    if lang is not None:
        options["language"] = lang
    out: list[Example] = []
    for group in paths:
        out += readers.read(fmt, *group, **options)
    return out


def load(task: str, split: str, lang: str, local: Mapping, limit: int = 0) -> list[Example]:
    """The examples of one split in one language, the first `limit` of them if limit > 0."""

    files = resolve(task, split, lang, local)
    examples = read(files.format, files.paths, get_task(files.task).labels, lang if files.by_language else None)
    return cap(examples, limit)


def needed(task: str, files: Mapping[str, object], have: Mapping[str, object] = {}) -> list[str]:
    """The tasks whose directories a task's local layout reads, itself first; `files` are the
    sweep's overrides for it (an overridden split borrows nothing). Tasks whose test items its
    dev split leaves out (TaskSpec.dev_excludes) are read too where `have` (data.local) has them."""

    spec = get_task(task)
    out = [task]
    borrowed = [f.task for split, f in spec.local.files.items() if isinstance(f, From) and split not in files]
    for other in borrowed + ([spec.encoder_task] if spec.encoder_task else []):
        out += [name for name in needed(other, {}, have) if name not in out]
    return out + [t for t, _ in spec.dev_excludes if t in have and t not in out]
