"""A sweep's lock file: what the registry cannot pin in advance, pinned once it has been read.

The registry pins what it can before anything is read (hub.DOWNLOADS' sha256: files at fixed
URLs whose bytes were seen). A hub dataset's commit and UD's archive are known only once fetched,
so `ray-xr data fetch SWEEP.yaml` writes SWEEP.lock.json beside the sweep: each hub split it read
with the commit it resolved to, each download's files with their sha256, the hub model's commit
(`model`: {name, revision}), when, and with which datasets version. config.load reads it back
(JSON, offline, no pickle) into Sweep.lock; the plan puts the pins of each stage's splits into
its data spec and the model's commit into the pretraining spec, so the loaders read those commits,
check those checksums and load those weights, and a stage read at other pins has another key.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Iterable, Mapping

from ray_xr.errors import DataError
from ray_xr.stages import write_text
from ray_xr.tasks import hub
from ray_xr.tasks.load import hub_refs

SUFFIX = ".lock.json"
FIELDS = ("written", "datasets", "sources")
OPTIONAL = ("model",)  # a lock of a sweep on the embedded model or a local folder pins no model
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HUB_KEY = re.compile(r"(?P<dataset>\S+?)(?: (?P<config>\S+))? \[(?P<split>[^\]]+)\]")


def path_for(sweep_file: str | Path) -> Path:
    """sweeps/nli_vs_ner.yaml -> sweeps/nli_vs_ner.lock.json"""
    path = Path(sweep_file)
    return path.with_name(path.stem + SUFFIX)


def read(path: str | Path) -> dict:
    """The lock file as Sweep.lock holds it ({file, written, datasets, sources}); DataError, one
    line naming the file and the field, when it is not one `write` could have written."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"{path}: cannot read the lock file ({err.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected a lock file written by `ray-xr data fetch`") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); delete it and run"
                        " `ray-xr data fetch` again") from None
    if not isinstance(doc, dict) or not set(FIELDS) <= set(doc) <= set(FIELDS + OPTIONAL):
        have = ", ".join(sorted(doc)) if isinstance(doc, dict) else type(doc).__name__
        raise DataError(f"{path}: expected an object with {', '.join(FIELDS)} (and optionally"
                        f" {', '.join(OPTIONAL)}); it has {have or 'nothing'}")
    for field in ("written", "datasets"):
        if not isinstance(doc[field], str):
            raise DataError(f"{path}: {field}: expected a string, got {doc[field]!r}")
    if not isinstance(doc["sources"], dict):
        raise DataError(f"{path}: sources: expected an object {{source: pin}}")
    for key, pin in doc["sources"].items():
        problem = _problem(key, pin)
        if problem:
            raise DataError(f"{path}: sources.{key}: {problem}")
    model = doc.get("model")
    if model is not None and not (isinstance(model, dict) and sorted(model) == ["name", "revision"]
                                  and isinstance(model["name"], str) and _COMMIT.fullmatch(str(model["revision"]))):
        raise DataError(f"{path}: model: expected {{\"name\": <hub model>, \"revision\": <40-hex commit>}},"
                        f" got {json.dumps(model)}")
    return {"file": str(path), **doc}


def _problem(key: str, pin: object) -> str | None:
    """What is wrong with one entry, checked against the registry (offline); None if nothing."""
    if not isinstance(pin, dict) or not all(isinstance(v, str) for v in pin.values()):
        return f"expected an object of strings, got {pin!r}"
    if key.startswith("download "):
        spec = hub.DOWNLOADS.get(key.removeprefix("download "))
        if spec is None:
            return "not a known download (ray_xr/tasks/hubtable.py DOWNLOADS)"
        for file, digest in pin.items():
            if file not in spec["urls"]:
                return f"{file}: the download has no such file (it has {', '.join(spec['urls'])})"
            if not _SHA256.fullmatch(digest):
                return f"{file}: {digest!r} is not a sha256 (64 hex digits)"
            if spec["sha256"].get(file, digest) != digest:
                return f"{file}: sha256 {digest}, but ray_xr/tasks/hubtable.py pins {spec['sha256'][file]}"
        return None
    parts = _HUB_KEY.fullmatch(key)
    problem = hub.check(hub.Hub(**parts.groupdict())) if parts else "not a hub split or a download"
    if problem:
        return problem.removeprefix(f"{key}: ")
    if sorted(pin) != ["revision"] or not _COMMIT.fullmatch(pin["revision"]):
        return f"expected {{\"revision\": <40-hex commit>}}, got {json.dumps(pin)}"
    return None


def entries(refs: Iterable[hub.Ref]) -> dict[str, dict[str, str]]:
    """The lock's sources for references this process has read (hub.READ): a hub split's commit
    (left out when the datasets cache did not name one: it stays unpinned), a download's files."""
    out: dict[str, dict[str, str]] = {}
    for ref in refs:
        read = hub.READ[str(ref)]
        if isinstance(ref, hub.Download):
            out.setdefault(hub.pin_key(ref), {}).update(read)
        elif read["revision"]:
            out[hub.pin_key(ref)] = {"revision": read["revision"]}
    return dict(sorted(out.items()))


def write(path: Path, sources: Mapping[str, Mapping[str, str]], model: Mapping[str, str] | None = None) -> Path:
    doc = {"written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "datasets": metadata.version("datasets"), "sources": sources, **({"model": model} if model else {})}
    write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")  # atomic: a broken lock is never left
    return path


def pins_for(sources: Mapping[str, Mapping[str, str]], task: str, splits: Iterable[str], lang: str) -> dict:
    """The lock's entries for what a task's splits read in a language (a download: the files it
    reads), for a stage's data spec; {} when the lock covers none of them."""
    refs = dict.fromkeys(r for split in splits for r in hub_refs(task, split, lang))
    out = {}
    for ref in refs:
        pin = sources.get(hub.pin_key(ref))
        if pin is not None:
            read = hub.files_of(ref) if isinstance(ref, hub.Download) else pin
            out.setdefault(hub.pin_key(ref), {}).update({k: v for k, v in pin.items() if k in read})
    return out
