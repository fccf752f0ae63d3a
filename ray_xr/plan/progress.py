"""Where a run stands, read from its folder alone (no Ray): stages done / running / interrupted
/ failed / to do per phase, and an estimate of the time left. `ray-xr status RUN_DIR` prints
it; the aggregator puts it in the live report; `ray-xr run` shows a line of it as it goes.

The stages come from RUN_DIR/plan.json, the keys the run recorded (plan.recorded), never from
building the plan again on the reading machine, whose library versions or data paths may give
other keys (the driver, which has the plan, passes it); a stage's state comes from its
stage.json; whether a run is going from RUN_DIR/driver.json, which the driver writes when it
starts (its PID, host and start time) and when it ends (how). A stage marked "running" counts as
interrupted when the driver has ended or its process is gone (checked on the driver's own
host), when it began before the driver now running started, or, where the driver cannot be
checked (another host, a run folder without driver.json), when nothing in the folder changed
for STALE_S since the run began: a rerun resumes it. The time left is each phase's stages to
do times the mean duration of its finished stages, divided by the parallelism seen so far
(summed stage time over the wall time they spanned).
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import psutil

from ray_xr.plan.graph import PHASES, Plan
from ray_xr.errors import ReportError
from ray_xr.stages import RunDir

STALE_S = 1800.0  # longer than any stage goes without writing a file (an epoch checkpoint, a result)
STATES = ("done", "running", "interrupted", "failed", "todo")
DRIVER = "driver.json"  # {"pid", "host", "started"}, and once it ends {"ended", "exit"}


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


def driver(run: RunDir) -> dict:
    """The run's driver: driver.json with "state": running, gone (its process died without
    ending: killed, crashed), the way it ended (finished, failed, interrupted, error), or
    unknown (no driver.json; a driver on another host)."""
    text = run.read_text(DRIVER)
    found = json.loads(text) if text else {}
    if not found:
        return {"state": "unknown"}
    if found.get("exit"):
        return {**found, "state": found["exit"]}
    if found.get("host") != socket.gethostname():
        return {**found, "state": "unknown"}
    try:
        proc = psutil.Process(found["pid"])
        alive = proc.create_time() <= found["started"] + 1 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # no such process (a reused PID started later: another process)
        alive = False
    return {**found, "state": "running" if alive else "gone"}


def status(run_dir: Path | str | RunDir, now: float | None = None, p: Plan | None = None) -> dict:
    """{"phases": {phase: {state: count, "total": n}}, "eta_s": seconds or None, "stale": bool,
    "run": driver()}; `p`: the run's plan where the caller has it (else built from sweep.json)."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    stages = {key: stage.phase for key, stage in p.stages.items()} if p else recorded_phases(run)
    now = time.time() if now is None else now
    run_state = driver(run)
    began = run_state.get("started") or 0.0
    since = max(run.last_change(), began)  # never stale from a time before the run began
    stale = bool(since) and now - since > STALE_S
    gone = run_state["state"] != "running" and (run_state["state"] != "unknown" or stale)
    records = run.records()
    failed = run.failed() if gone else set()  # the stages of a trial that raised, marked by its driver
    phases: dict[str, dict] = {}
    durations: dict[str, list[float]] = {}
    spans = []
    for key, phase in stages.items():
        record = records.get(key) or {}
        state = record.get("status", "todo")
        if state == "running" and (gone or (record.get("started") or 0.0) < began):
            state = "failed" if key in failed else "interrupted"
        counts = phases.setdefault(phase, {**dict.fromkeys(STATES, 0), "total": 0})
        counts[state if state in STATES else "todo"] += 1
        counts["total"] += 1
        if state == "done" and record.get("started") and record.get("finished"):
            durations.setdefault(phase, []).append(record["finished"] - record["started"])
            spans.append((record["started"], record["finished"]))
    return {"phases": {ph: {**{state: c[state] for state in STATES}, "total": c["total"]}
                       for ph, c in sorted(phases.items(), key=lambda item: PHASES.index(item[0]))},
            "eta_s": None if gone and any(c["done"] < c["total"] for c in phases.values())
            else _eta(phases, durations, spans), "stale": stale, "run": run_state}


def _eta(phases: dict, durations: dict, spans: list) -> float | None:
    left = {ph: c["total"] - c["done"] for ph, c in phases.items()}
    if not any(left.values()):
        return 0.0
    if any(n and ph not in durations for ph, n in left.items()):
        return None  # a phase with nothing finished yet: no basis for a guess
    work = sum(n * sum(durations[ph]) / len(durations[ph]) for ph, n in left.items() if n)
    wall = max(f for _, f in spans) - min(s for s, _ in spans)
    parallel = max(1.0, sum(f - s for s, f in spans) / wall) if wall > 0 else 1.0
    return work / parallel


def rates(run: RunDir, records: dict[str, dict], since: float = 0.0) -> dict[str, float]:
    """Tokens per second of each phase's running training stages (begun at `since` or later),
    summed: each one's last finished epoch, from its checkpoint (none during a first epoch)."""
    out: dict[str, float] = {}
    for key, record in records.items():
        if record.get("status") != "running" or (record.get("started") or 0.0) < since:
            continue
        try:  # a checkpoint replaced between the two reads is skipped until the next look
            folder = json.loads(run.read_text(f"stages/{key}/checkpoint/latest.json") or "null")["folder"]
            state = json.loads(run.read_text(f"stages/{key}/checkpoint/{folder}/state.json") or "null")
            speed = float(state["position"]["extra"]["tokens_per_s"])
        except (TypeError, KeyError, ValueError):
            continue
        out[record["phase"]] = out.get(record["phase"], 0.0) + speed
    return out


def line(found: dict, speeds: dict[str, float] | None = None) -> str:
    """One line: `pretrain 1/1, target 5/9 (2 running, 31,204 tok/s), eval 60/180; about 3 min left`."""
    parts = []
    for phase, c in found["phases"].items():
        extra = [f"{c[s]} {s}" for s in ("running", "interrupted", "failed") if c[s]]
        extra += [f"{speeds[phase]:,.0f} tok/s"] if (speeds or {}).get(phase) else []
        parts.append(f"{phase} {c['done']}/{c['total']}" + (f" ({', '.join(extra)})" if extra else ""))
    eta = found["eta_s"]
    tail = "" if eta is None else ("; finished" if eta == 0 else f"; about {_duration(eta)} left")
    return ", ".join(parts) + tail


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def run_line(run: dict) -> str:
    """What the driver.json of the run says, in words ("" without one)."""
    state, who = run["state"], f"`ray-xr run`, PID {run.get('pid')} on {run.get('host')}"
    if "started" not in run:
        return ""
    if state == "running":
        return f"run: going ({who}, started {_clock(run['started'])})"
    if state == "unknown":
        return f"run: started {_clock(run['started'])} by {who}; not checked from this host"
    if state == "gone":
        return f"run: gone ({who} ended without a word: killed or crashed); run it again to resume"
    ended = f"run: {state} at {_clock(run['ended'])}"
    return ended + ("; run it again to resume" if state in ("interrupted", "failed", "error") else "")


def table(found: dict) -> str:
    header = f"{'phase':<14}{'done':>6}{'running':>9}{'interrupted':>13}{'failed':>8}{'to do':>7}{'total':>7}"
    rows = [f"{ph:<14}{c['done']:>6}{c['running']:>9}{c['interrupted']:>13}{c['failed']:>8}{c['todo']:>7}"
            f"{c['total']:>7}" for ph, c in found["phases"].items()]
    eta, run = found["eta_s"], found["run"]
    if eta is None and run["state"] not in ("running", "unknown"):
        left = "none: no run is going"
    else:
        left = "unknown (no stage of a remaining phase has finished)" if eta is None else _duration(eta)
    note = (["stale: nothing has changed for 30 min; 'running' stages are counted as interrupted"]
            if found["stale"] else [])
    return "\n".join([header, *rows, f"time left: {left}", *filter(None, [run_line(run)]), *note])
