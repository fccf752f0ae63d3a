"""Stage folders on disk: `RUN_DIR/stages/<key>/stage.json` and the artifacts beside it.

Every write is atomic (temp file + rename), so a stage is either done or not, never half
written, and a restarted run skips what finished. Cheap to import: no torch, no ray.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path

SCHEMA = 1
LIBRARIES = ("ray", "torch", "transformers", "tokenizers", "datasets", "accelerate", "pyyaml", "pydantic")


def write_json(path: Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically (temp file, fsync, rename): a reader sees the old file or the new one, never a
    part, and an interrupted write leaves no temp file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; run folders are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_dir(path: Path):
    """A folder written whole or not at all: the body fills a temporary folder beside `path`,
    which then replaces it (a reader never sees half a model)."""
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700 folders
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def library_versions(names=LIBRARIES) -> dict[str, str | None]:
    versions = {}
    for lib in names:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return versions


@lru_cache(maxsize=None)
def data_fingerprint(directory: str) -> str:
    """A local data directory by content: the SHA-256 of every file's path below it and bytes,
    so the same data mounted elsewhere gives the same stage keys. A directory this machine
    lacks (a cluster path planned on a laptop) is named by its path instead."""
    root = Path(directory)
    if not root.is_dir():
        return f"path:{directory}"
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()[:32]


@lru_cache(maxsize=1)
def provenance() -> dict:
    """Library versions and the git SHA of the code that produced a stage."""
    versions = library_versions()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        sha = None
    return {"versions": versions, "git_sha": sha, "python": platform.python_version()}


class RunDir:
    """The layout of one sweep's results folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def results(self) -> Path:
        return self.root / "results.jsonl"

    @property
    def feature_cache(self) -> Path:
        return self.root / "cache" / "features"

    def stage_dir(self, key: str) -> Path:
        return self.root / "stages" / key

    def model_dir(self, key: str) -> Path:
        return self.stage_dir(key) / "model"

    def checkpoint_dir(self, key: str) -> Path:
        return self.stage_dir(key) / "checkpoint"

    def clear_checkpoint(self, key: str) -> None:
        shutil.rmtree(self.checkpoint_dir(key), ignore_errors=True)

    def read_stage(self, key: str) -> dict | None:
        try:
            return json.loads((self.stage_dir(key) / "stage.json").read_text())
        except FileNotFoundError:
            return None

    def is_done(self, key: str) -> bool:
        record = self.read_stage(key)
        return bool(record) and record.get("status") == "done"

    # A stage whose trial failed in this invocation: a trial started early to wait for it
    # (run/schedule.py) ends instead of waiting forever. Cleared when a run starts.
    def mark_failed(self, key: str) -> None:
        write_text(self.root / ".failed" / key, "")

    def has_failed(self, key: str) -> bool:
        return (self.root / ".failed" / key).exists()

    def clear_failed(self) -> None:
        shutil.rmtree(self.root / ".failed", ignore_errors=True)

    def write_stage(self, stage, status: str, sweep: dict, metrics: dict | None = None,
                    started: float | None = None, node: str | None = None) -> dict:
        record = {
            "schema": SCHEMA, "key": stage.key, "phase": stage.phase, "label": stage.label,
            "parent": stage.parent, "spec": stage.spec, "cells": list(stage.cells),
            "status": status, "metrics": metrics or {}, "started": started,
            "node": node,  # the Ray node whose rank-0 worker computed it
            "finished": time.time() if status == "done" else None,
            "sweep": sweep, "provenance": provenance(),
        }
        write_json(self.stage_dir(stage.key) / "stage.json", record)
        return record
