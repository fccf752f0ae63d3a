"""Resume that really resumes, and results that do not depend on what went wrong on the way.

The CHAINS sweep (conftest) on one Ray Train worker per chain, killed outright while a target stage
is in its second epoch (the run stopped, SIGSTOP, as soon as a checkpoint says so, and checked
again while stopped: the kill lands there however busy the machine), then run again: the stage
continues from its checkpoint and the run ends with the undisturbed reference's results.jsonl,
byte for byte. A killed Ray Train worker and a
killed aggregator actor are disturbances of the same sweep in test_multinode.py (the worker node
is killed, its raylet and its workers by PID, then the aggregator by PID), compared with the same
reference.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import CHAINS, REPO, freeze, ray_xr, seed_stages, thaw, write_sweep


def stage_records(run_dir: Path) -> dict[str, dict]:
    out = {}
    for p in (run_dir / "stages").glob("*/stage.json"):
        try:
            out[p.parent.name] = json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            pass
    return out


def target_stages(run_dir: Path) -> dict[str, dict]:
    return {k: s for k, s in stage_records(run_dir).items() if s["phase"] == "target"}


def start(sweep: Path, storage: Path) -> subprocess.Popen:
    """`ray-xr run` in a session of its own, with SIGINT as a terminal's foreground process has it
    (a suite started with `&` from a script inherits it ignored, and Python keeps it so)."""
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.Popen([str(exe), "run", str(sweep), "--storage", str(storage)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 400):
    deadline = time.time() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, f"the run ended before {what}:\n{proc.stdout.read()[-3000:]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def frozen_when(condition, processes, proc: subprocess.Popen, what: str, timeout: float = 400):
    """Wait for `condition`, stop `processes()` (conftest.freeze of a process, the run's own
    processes or a node's) and ask again: its answer while they are stopped, when it still
    holds, so that a kill that follows lands in that state however late this process looked
    (a busy machine); else they go on and the wait goes on. Returns the answer and the stopped
    processes, for the caller to kill."""
    while True:
        wait_for(condition, proc, what, timeout)
        stopped = freeze(processes())
        found = condition()
        if found:
            return found, stopped
        thaw(stopped)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("chains") / "chains.yaml", **CHAINS)


def test_a_run_killed_mid_epoch_resumes_from_its_checkpoint(sweep, chains_reference, tmp_path):
    run_dir = tmp_path / "tiny"
    seed_stages(chains_reference, str(run_dir), ("pretrain", "intermediate"))  # the kill lands in a target
    proc = start(sweep, tmp_path)

    def mid_epoch_two():  # a target stage has checkpointed after its first epoch, and is not done
        for key, record in target_stages(run_dir).items():
            latest = run_dir / "stages" / key / "checkpoint" / "latest.json"
            try:
                if record["status"] == "running" and not json.loads(latest.read_text())["folder"].startswith("e0-"):
                    return key
            except (FileNotFoundError, json.JSONDecodeError):
                continue
        return None

    key, stopped = frozen_when(mid_epoch_two, lambda: psutil.Process(proc.pid), proc, "a target stage's first epoch")
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all; the local cluster dies with the run
    for p in stopped:  # any of its processes outside its process group
        p.send_signal(signal.SIGKILL) if p.is_running() else None
    proc.wait()
    finished = {k: s["finished"] for k, s in stage_records(run_dir).items() if s["status"] == "done"}
    assert key not in finished
    again = ray_xr("run", str(sweep), "--storage", str(tmp_path), "-v")  # -v: the workers' lines
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    metrics = stage_records(run_dir)[key]["metrics"]
    assert metrics["resumed_from_epoch"] >= 1, metrics
    assert "resuming from its checkpoint" in again.stdout
    assert (run_dir / "results.jsonl").read_bytes() == (chains_reference / "results.jsonl").read_bytes()
    # the tiny model's scores sit at chance: the trained weights themselves are what a wrong resume changes
    weights = f"stages/{key}/model/model.safetensors"
    assert (run_dir / weights).read_bytes() == (chains_reference / weights).read_bytes()
    assert not list(run_dir.glob("stages/*/checkpoint"))  # none left behind
    records = stage_records(run_dir)
    assert {k: records[k]["finished"] for k in finished} == finished  # finished stages did not run again


def test_a_second_run_on_a_busy_run_folder_is_refused(sweep, tmp_path):
    proc = start(sweep, tmp_path)
    wait_for(lambda: (tmp_path / "tiny" / "sweep.json").exists(), proc, "the first run's start")
    second = ray_xr("run", str(sweep), "--storage", str(tmp_path), timeout=120)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    assert second.stderr.strip() == (f"ray-xr: error: {tmp_path / 'tiny'}: another `ray-xr run` is using this"
                                     " run folder; wait for it to end, or give this one another --storage")
