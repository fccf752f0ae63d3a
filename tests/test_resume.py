"""Resume that really resumes, and results that do not depend on what went wrong on the way.

One small sweep whose target stage runs long enough to be interrupted: an undisturbed run is the
reference, and every disturbed run of the same sweep into another storage folder (the run
killed outright, a Ray Train worker killed, the aggregator actor killed) must end with the
reference's results.jsonl, byte for byte. The reference runs its stages in each trial's own
process (resources.workers = 0), the disturbed runs on one Ray Train worker: the same stage keys
and the same numbers.
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

from tests.conftest import REPO, ray_xr, write_sweep

LONG = dict(intermediate=["none"], targets=["xnli"], languages={"xnli": ["en", "cog", "cyr"]},
            data={"source": "synthetic", "train_size": 1200, "dev_size": 16, "test_size": 200},
            noise={"kinds": ["char"], "levels": [0, 0.25, 0.5, 0.75]},
            target_training={"epochs": 3, "batch_size": 16, "max_length": 48},
            resources={"workers": 1, "cpus_per_worker": 1, "max_failures": 2, "checkpoint_every_steps": 25})


def stage_records(run_dir: Path) -> dict[str, dict]:
    out = {}
    for p in (run_dir / "stages").glob("*/stage.json"):
        try:
            out[p.parent.name] = json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            pass
    return out


def target_stage(run_dir: Path) -> tuple[str, dict] | None:
    return next(((k, s) for k, s in stage_records(run_dir).items() if s["phase"] == "target"), None)


def start(sweep: Path, storage: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.Popen([str(exe), "run", str(sweep), "--storage", str(storage)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 400):
    deadline = time.time() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, f"the run ended before {what}:\n{proc.stdout.read()[-3000:]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def in_run(proc: subprocess.Popen, name: str) -> psutil.Process | None:
    """A process of this run's own local cluster (a descendant of the run), by its Ray title."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if name in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("long") / "long.yaml", **LONG)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("reference")
    in_trial = write_sweep(folder / "long.yaml", **{**LONG, "resources": {**LONG["resources"], "workers": 0}})
    result = ray_xr("run", str(in_trial), "--storage", str(folder))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (folder / "tiny" / "results.jsonl").read_bytes()


def test_a_run_killed_mid_epoch_resumes_from_its_checkpoint(sweep, reference, tmp_path):
    run_dir = tmp_path / "tiny"
    proc = start(sweep, tmp_path)

    def mid_epoch_two():  # the target stage has checkpointed after its first epoch, and is not done
        found = target_stage(run_dir)
        latest = run_dir / "stages" / found[0] / "checkpoint" / "latest.json" if found else None
        return found and found[1]["status"] == "running" and latest.exists() and \
            not json.loads(latest.read_text())["folder"].startswith("e0-")

    wait_for(mid_epoch_two, proc, "the target stage's first epoch")
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all; the local cluster dies with the run
    proc.wait()
    finished = {k: s["finished"] for k, s in stage_records(run_dir).items() if s["status"] == "done"}
    assert any(s["phase"] == "pretrain" for k, s in stage_records(run_dir).items() if k in finished)
    again = ray_xr("run", str(sweep), "--storage", str(tmp_path))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    metrics = target_stage(run_dir)[1]["metrics"]
    assert metrics["resumed_from_epoch"] >= 1, metrics
    assert "resuming from its checkpoint" in again.stdout
    assert (run_dir / "results.jsonl").read_bytes() == reference
    assert not (run_dir / "stages" / target_stage(run_dir)[0] / "checkpoint").exists()  # none left behind
    records = stage_records(run_dir)
    assert {k: records[k]["finished"] for k in finished} == finished  # finished stages did not run again


def test_a_killed_worker_and_a_killed_aggregator_lose_nothing(sweep, reference, tmp_path):
    run_dir = tmp_path / "tiny"
    proc = start(sweep, tmp_path)
    wait_for(lambda: (s := target_stage(run_dir)) and s[1]["status"] == "running"
             and (run_dir / "stages" / s[0] / "checkpoint" / "latest.json").exists(), proc, "a target checkpoint")
    worker = wait_for(lambda: in_run(proc, "RayTrainWorker"), proc, "the Ray Train worker")
    worker.kill()  # the worker group restarts (max_failures) and the stage resumes
    wait_for(lambda: (run_dir / "results.jsonl").exists() and (run_dir / "results.jsonl").read_text().count("\n") >= 1,
             proc, "the first evaluation")
    aggregator = wait_for(lambda: in_run(proc, "Aggregator"), proc, "the aggregator actor")
    aggregator.kill()  # Ray restarts it; it rebuilds itself from results.jsonl
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    assert "resumed_from_epoch" in target_stage(run_dir)[1]["metrics"]
    assert "resuming from its checkpoint" in out
    assert (run_dir / "results.jsonl").read_bytes() == reference


def test_a_second_run_on_a_busy_run_folder_is_refused(sweep, tmp_path):
    proc = start(sweep, tmp_path)
    wait_for(lambda: (tmp_path / "tiny" / "sweep.json").exists(), proc, "the first run's start")
    second = ray_xr("run", str(sweep), "--storage", str(tmp_path), timeout=120)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    assert second.stderr.strip() == (f"ray-xr: error: {tmp_path / 'tiny'}: another `ray-xr run` is using this"
                                     " run folder; wait for it to end, or give this one another --storage")
