"""Where a run stands, read from its folder alone (no Ray): stages done / running / failed / to
do per phase, and an estimate of the time left. `ray-xr status RUN_DIR` prints it; the
aggregator puts it in the live report and prints a line of it to the terminal.

The stages come from RUN_DIR/plan.json, the keys the run recorded (plan.recorded), never from
building the plan again on the reading machine, whose library versions or data paths may give
other keys; a stage's state comes from its stage.json. A stage marked "running" whose run
folder has not changed for STALE_S counts as failed: the process that ran it is gone (crashed
or interrupted), and a rerun resumes it. The time left is each phase's stages to do times the
mean duration of its finished stages, divided by the parallelism seen so far (summed stage
time over the wall time they spanned).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ray_xr import plan
from ray_xr.errors import ReportError
from ray_xr.stages import RunDir

STALE_S = 1800.0  # longer than any stage goes without writing a file (an epoch checkpoint, a result)
STATES = ("done", "running", "failed", "todo")


def recorded_phases(run: RunDir) -> dict[str, str]:
    """Every stage of the run's plan -> its phase, as the run recorded them (plan.json)."""
    path = run.show("plan.json")
    text = run.read_text("plan.json")
    if text is None:
        raise ReportError(f"{path}: not found (is this a run folder? one made before ray-xr recorded its plan"
                          " gets it from its next `ray-xr run`)")
    try:
        return {key: stage["phase"] for key, stage in json.loads(text)["stages"].items()}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ReportError(f"{path}: not a plan written by `ray-xr run`") from None


def status(run_dir: Path | str | RunDir, now: float | None = None) -> dict:
    """{"phases": {phase: {state: count, "total": n}}, "eta_s": seconds or None, "stale": bool}."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    stages = recorded_phases(run)
    now = time.time() if now is None else now
    stale = now - run.last_change() > STALE_S
    records = run.records()
    phases: dict[str, dict] = {}
    durations: dict[str, list[float]] = {}
    spans = []
    for key, phase in stages.items():
        record = records.get(key) or {}
        state = record.get("status", "todo")
        if state == "running" and stale:
            state = "failed"
        counts = phases.setdefault(phase, {**dict.fromkeys(STATES, 0), "total": 0})
        counts[state if state in STATES else "todo"] += 1
        counts["total"] += 1
        if state == "done" and record.get("started") and record.get("finished"):
            durations.setdefault(phase, []).append(record["finished"] - record["started"])
            spans.append((record["started"], record["finished"]))
    return {"phases": {ph: {"done": c["done"], "running": c["running"], "failed": c["failed"],
                            "todo": c["todo"], "total": c["total"]}
                       for ph, c in sorted(phases.items(), key=lambda item: plan.PHASES.index(item[0]))},
            "eta_s": _eta(phases, durations, spans), "stale": stale}


def _eta(phases: dict, durations: dict, spans: list) -> float | None:
    left = {ph: c["todo"] + c["running"] + c["failed"] for ph, c in phases.items()}
    if not any(left.values()):
        return 0.0
    if any(n and ph not in durations for ph, n in left.items()):
        return None  # a phase with nothing finished yet: no basis for a guess
    work = sum(n * sum(durations[ph]) / len(durations[ph]) for ph, n in left.items() if n)
    wall = max(f for _, f in spans) - min(s for s, _ in spans)
    parallel = max(1.0, sum(f - s for s, f in spans) / wall) if wall > 0 else 1.0
    return work / parallel


def line(found: dict) -> str:
    """One line: `pretrain 1/1, intermediate 2/2, target 5/9 (1 running), eval 60/180; ~3 min left`."""
    parts = []
    for phase, c in found["phases"].items():
        extra = [f"{c[s]} {s}" for s in ("running", "failed") if c[s]]
        parts.append(f"{phase} {c['done']}/{c['total']}" + (f" ({', '.join(extra)})" if extra else ""))
    eta = found["eta_s"]
    tail = "" if eta is None else ("; finished" if eta == 0 else f"; about {_duration(eta)} left")
    return ", ".join(parts) + tail


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def table(found: dict) -> str:
    header = f"{'phase':<14}{'done':>6}{'running':>9}{'failed':>8}{'to do':>7}{'total':>7}"
    rows = [f"{ph:<14}{c['done']:>6}{c['running']:>9}{c['failed']:>8}{c['todo']:>7}{c['total']:>7}"
            for ph, c in found["phases"].items()]
    eta = found["eta_s"]
    left = "unknown (no stage of a remaining phase has finished)" if eta is None else _duration(eta)
    note = ["stale: nothing has changed for 30 min; 'running' stages are counted as failed"] if found["stale"] else []
    return "\n".join([header, *rows, f"time left: {left}", *note])
