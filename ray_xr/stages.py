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

from filelock import FileLock

from ray_xr.storage import Bucket, is_uri, join, local_cache, redact

SCHEMA = 1
PACKAGE = Path(__file__).resolve().parent  # the ray_xr package this process runs
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


def git_sha(package: Path) -> str | None:
    """The commit of the git checkout whose tracked files `package` is, or None: a package
    installed without one (a wheel, or `pip install .` on a cluster's nodes, whose copy of the
    checkout leaves .git out), an install inside a checkout that git ignores (a .venv's
    site-packages: another version of the code than the checkout's), or no git at all. The
    driver, which runs from the checkout, asks once and sends the answer to every worker."""
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "__init__.py"], cwd=package,
                                 capture_output=True, timeout=10).returncode == 0
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (head.stdout.strip() or None) if tracked and head.returncode == 0 else None


@lru_cache(maxsize=1)
def code_sha() -> str | None:
    """git_sha of the package this process runs, asked once (the driver's: see git_sha)."""
    return git_sha(PACKAGE)


@lru_cache(maxsize=4)
def provenance(git_sha: str | None) -> dict:
    """Library versions of this process and the git SHA of the code that produced a stage (the
    driver's: git_sha)."""
    return {"versions": library_versions(), "git_sha": git_sha, "python": platform.python_version()}


class RunDir:
    """The layout of one sweep's results folder, at a local or mounted path or in object storage
    (a URI: storage.py). `root` is always a local folder: the folder itself, or for a bucket this
    node's working copy of it (the models it read, its feature cache, the records it rendered),
    in which a stage's files are written before they go up with its final stage.json."""

    # what a report reads; a bucket's models and checkpoints stay there until a stage needs them
    HEAVY = ("model", "checkpoint", "tokenizer", "ray", "cache", ".failed", ".probe")

    def __init__(self, location: str | Path, option: str = "--storage", reader: bool = False):
        """`reader`: a command that reads the run (status, report, export), with a working copy
        of its own (storage.local_cache)."""
        self.bucket = Bucket(str(location), option) if is_uri(location) else None
        self.where = str(location) if self.bucket else str(Path(location).resolve())  # what other processes get
        self.root = local_cache(self.where, reader) if self.bucket else Path(location)
        self._seen: dict[str, tuple[int, int]] = {}  # the bucket's objects as last copied into root

    @property
    def shown(self) -> str:
        """How to name the run folder to the user: its path, or its URI without credentials."""
        return redact(self.where)

    def show(self, rel: str) -> str:
        """How to name a file of the run to the user: a path, or the bucket's URI of it (without
        credentials)."""
        return redact(join(self.where, rel)) if self.bucket else str(self.root / rel)

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

    def read_text(self, rel: str) -> str | None:
        if self.bucket:
            data = self.bucket.read(rel)
            return None if data is None else data.decode("utf-8")
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, rel: str, text: str) -> None:
        write_text(self.root / rel, text)
        if self.bucket:
            self.bucket.write(rel, text.encode("utf-8"))

    def write_json(self, rel: str, obj: object) -> None:
        self.write_text(rel, json.dumps(obj, indent=1, sort_keys=True) + "\n")

    def push(self, rel: str) -> None:
        """A file or folder written into root, up to the bucket (nothing to do for a local run)."""
        if self.bucket and (self.root / rel).is_dir():
            self.bucket.upload(self.root / rel, rel)
        elif self.bucket and (self.root / rel).exists():
            self.bucket.write(rel, (self.root / rel).read_bytes())

    def pull(self, names: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
        """Copy the bucket's light files (records, results, outcomes, predictions, reports; or
        only files of these `names`, none of those in `skip`) that changed since the last pull
        into root, for code that reads a run folder from disk (the report, progress)."""
        if not self.bucket:
            return
        for rel, seen in self.bucket.files().items():
            parts = rel.split("/")
            if (set(parts[:-1]) & set(self.HEAVY) or (names and parts[-1] not in names) or rel in skip
                    or self._seen.get(rel) == seen):
                continue
            write_bytes(self.root / rel, self.bucket.read(rel) or b"")
            self._seen[rel] = seen

    def last_change(self) -> float:
        """When a record, the results or a checkpoint last changed (seconds since the epoch)."""
        if self.bucket:
            times = [t for rel, (_, t) in self.bucket.files().items()
                     if rel.endswith(("stage.json", "latest.json")) or rel == "results.jsonl"]
            return max(times, default=0) / 1e9
        files = [self.results, *self.root.glob("stages/*/stage.json"), *self.root.glob("stages/*/checkpoint")]
        return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)

    def read_stage(self, key: str) -> dict | None:
        text = self.read_text(f"stages/{key}/stage.json")
        return None if text is None else json.loads(text)

    def records(self) -> dict[str, dict]:
        """Every stage record in the folder, by key (a bucket's copied in: one listing, and a
        read of each record that changed)."""
        self.pull(("stage.json",))
        return {p.parent.name: json.loads(p.read_text()) for p in self.root.glob("stages/*/stage.json")}

    def done(self) -> set[str]:
        return {key for key, record in self.records().items() if record.get("status") == "done"}

    def ray_storage(self) -> dict:
        """Ray Tune's and Ray Train's storage arguments: their state goes into RUN_DIR/ray."""
        if self.bucket:
            return {"storage_path": self.bucket.path("ray"), "storage_filesystem": self.bucket.fs}
        return {"storage_path": str(Path(self.where) / "ray")}

    def is_done(self, key: str) -> bool:
        record = self.read_stage(key)
        return bool(record) and record.get("status") == "done"

    def fetch(self, rel: str) -> Path:
        """A folder of the run on this node (a model, a tokenizer), copied from the bucket on
        first use and kept: a stage's files never change once written under its key."""
        if self.bucket and not (self.root / rel).is_dir():
            self.bucket.download(rel, self.root / rel)
        return self.root / rel

    def fetch_model(self, key: str) -> Path:
        """A finished stage's model on this node. From a bucket, the copy is checked against the
        stage record's finish time: after a --rerun a node never keeps using the old model."""
        if not self.bucket:
            return self.model_dir(key)
        stamp, mark = str((self.read_stage(key) or {}).get("finished")), self.stage_dir(key) / ".finished"
        mark.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.stage_dir(key) / ".fetch.lock")):  # workers of one node fetch it once
            if not (self.model_dir(key).is_dir() and mark.exists() and mark.read_text() == stamp):
                shutil.rmtree(self.model_dir(key), ignore_errors=True)
                self.bucket.download(f"stages/{key}/model", self.model_dir(key))
                write_text(mark, stamp)
        return self.model_dir(key)

    def push_checkpoint(self, key: str) -> None:
        """The checkpoint just written (checkpoints.save) up to the bucket: its folder first, then
        latest.json naming it, then the older folders go, as on disk."""
        if not self.bucket:
            return
        rel = f"stages/{key}/checkpoint"
        name = json.loads((self.checkpoint_dir(key) / "latest.json").read_text())["folder"]
        self.bucket.upload(self.checkpoint_dir(key) / name, f"{rel}/{name}")
        self.bucket.write(f"{rel}/latest.json", (self.checkpoint_dir(key) / "latest.json").read_bytes())
        for old in {f[len(rel) + 1:].split("/")[0] for f in self.bucket.files(rel)} - {name, "latest.json"}:
            self.bucket.delete(f"{rel}/{old}")

    def pull_checkpoint(self, key: str) -> None:
        """The bucket's latest checkpoint of a stage into root, where checkpoints.load finds it
        (the bucket's is the one that counts: a copy left from an earlier attempt goes)."""
        if not self.bucket:
            return
        rel, local = f"stages/{key}/checkpoint", self.checkpoint_dir(key)
        latest = self.bucket.read(f"{rel}/latest.json")
        if latest is None:
            shutil.rmtree(local, ignore_errors=True)
            return
        name = json.loads(latest)["folder"]
        if not (local / name).is_dir():
            self.bucket.download(f"{rel}/{name}", local / name)
        write_bytes(local / "latest.json", latest)

    def clear_checkpoint(self, key: str) -> None:
        self.clear(f"stages/{key}/checkpoint")

    # A stage whose trial failed in this invocation: a trial started early to wait for it
    # (run/schedule.py) ends instead of waiting forever. Cleared when a run starts.
    def mark_failed(self, key: str) -> None:
        self.write_text(f".failed/{key}", "")

    def has_failed(self, key: str) -> bool:
        return self.read_text(f".failed/{key}") is not None

    def failed(self) -> set[str]:
        """Every stage marked by has_failed, in one listing."""
        if self.bucket:
            return {rel.split("/", 1)[1] for rel in self.bucket.files(".failed")}
        folder = self.root / ".failed"
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    def clear_failed(self) -> None:
        self.clear(".failed")

    def clear(self, rel: str) -> None:
        """A folder or file of the run, gone (here and in the bucket)."""
        if (self.root / rel).is_dir():
            shutil.rmtree(self.root / rel, ignore_errors=True)
        else:
            (self.root / rel).unlink(missing_ok=True)
        if self.bucket:
            self.bucket.delete(rel)

    def write_stage(self, stage, status: str, sweep: dict, metrics: dict | None = None,
                    started: float | None = None, node: str | None = None, *, git_sha: str | None) -> dict:
        """The stage's record; a finished stage's files go up to the bucket first, so a record
        that says done always has its model and outcomes beside it. `git_sha`: the driver's
        (stages.git_sha), never looked up here: a node's install has no checkout."""
        record = {
            "schema": SCHEMA, "key": stage.key, "phase": stage.phase, "label": stage.label,
            "parent": stage.parent, "spec": stage.spec, "cells": list(stage.cells),
            "status": status, "metrics": metrics or {}, "started": started,
            "node": node,  # the Ray node whose rank-0 worker computed it
            "finished": time.time() if status == "done" else None,
            "sweep": sweep, "provenance": provenance(git_sha),
        }
        if self.bucket and status == "done" and self.stage_dir(stage.key).is_dir():
            self.bucket.upload(self.stage_dir(stage.key), f"stages/{stage.key}", skip=("checkpoint",))
        self.write_json(f"stages/{stage.key}/stage.json", record)
        if self.bucket and status == "done":  # this node's copy is the record's (fetch_model)
            write_text(self.stage_dir(stage.key) / ".finished", str(record["finished"]))
        return record
