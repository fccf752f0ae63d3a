"""Where a report's numbers come from, so that a report folder can be cited: the sweep and its
model, the code (git SHA) and library versions that made the evaluations, and when they ran.

Read from the run folder: sweep.json (name, model) and the stage.json of each evaluation the
results name (its `provenance` and `finished` time). Dates are the evaluations' own, not the
rendering's, so the same run folder always renders the same report. Standard library only.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

# The provenance and finish time of each stage.json read, by path and modification time: the
# live report rereads them every few seconds, and a sweep may have thousands of evaluations
# (only these two fields are kept: a stage.json also holds the whole resolved sweep)
_STAGES: dict[tuple[str, int], dict] = {}


def sweep_doc(run_dir: Path) -> dict:
    """sweep.json, or {} where there is none or it is unreadable (the report still renders;
    results.sweep_source_language reports a malformed one)."""
    try:
        doc = json.loads((run_dir / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def run_name(run_dir: Path) -> str:
    """The sweep's name; the folder's where sweep.json is missing."""
    name = sweep_doc(run_dir).get("name")
    return name if isinstance(name, str) and name else Path(run_dir).resolve().name


def _stage(path: Path) -> dict:
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return {}
    if key not in _STAGES:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        _STAGES[key] = {k: record.get(k) for k in ("provenance", "finished")} if isinstance(record, dict) else {}
    return _STAGES[key]


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def gather(run_dir: Path, records: Sequence[dict]) -> dict:
    """{sweep, model, evaluations, git_sha: [...], versions: {lib: [...]}, python: [...],
    evaluated: [first, last]}; lists hold every value seen (a run resumed under other code
    shows both)."""
    shas, pythons, finished = set(), set(), []
    versions: dict[str, set[str]] = defaultdict(set)
    stages = sorted({r["stage"] for r in records if r.get("stage")})
    for key in stages:
        record = _stage(Path(run_dir) / "stages" / key / "stage.json")
        found = record.get("provenance") or {}
        if found.get("git_sha"):
            shas.add(found["git_sha"])
        if found.get("python"):
            pythons.add(found["python"])
        for lib, version in (found.get("versions") or {}).items():
            if version:
                versions[lib].add(version)
        if isinstance(record.get("finished"), (int, float)):
            finished.append(record["finished"])
    sweep = sweep_doc(Path(run_dir))
    return {"sweep": run_name(Path(run_dir)), "model": sweep.get("model"), "evaluations": len(stages),
            "git_sha": sorted(shas), "versions": {lib: sorted(v) for lib, v in sorted(versions.items())},
            "python": sorted(pythons), "evaluated": [_utc(min(finished)), _utc(max(finished))] if finished else []}


def markdown(found: dict) -> list[str]:
    """The `## Provenance` section: what a citation of these numbers needs."""
    lines = [f"- Sweep `{found['sweep']}`" + (f", model `{found['model']}`" if found.get("model") else "")
             + (f", {found['evaluations']} evaluations" if found["evaluations"] else "") + "."]
    if found["git_sha"]:
        lines.append(f"- Code: ray-xr at git {', '.join(found['git_sha'])}"
                     + (" (several: the code changed between stages)" if len(found["git_sha"]) > 1 else "") + ".")
    if found["versions"]:
        lines.append("- Libraries: " + ", ".join(f"{lib} {' / '.join(v)}" for lib, v in found["versions"].items())
                     + (f"; Python {' / '.join(found['python'])}" if found["python"] else "") + ".")
    if found["evaluated"]:
        first, last = found["evaluated"]
        lines.append(f"- Evaluated {first}" + (f" to {last}" if last != first else "") + ".")
    return ["## Provenance", "\n".join(lines)]
