"""Ctrl-C during a real run: what a terminal sends (SIGINT to the foreground process group) once
a target stage has a record saying it is running. The run ends with exit 130, its own list of
the unfinished stages and the command that resumes it (not Tune's Tuner.restore hint);
`ray-xr status` says the run is going while it goes, and afterwards that it was interrupted,
with no stage still counted as running; the command it printed resumes it."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal

from ray_xr import plan
from ray_xr.plan import config
from tests.conftest import ray_xr, write_sweep
from tests.test_resume import stage_records, start, wait_for


def status(run_dir) -> dict:
    result = ray_xr("status", str(run_dir), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ctrl_c_lists_the_unfinished_stages_exits_130_and_the_printed_command_resumes(tmp_path):
    sweep = write_sweep(tmp_path / "tiny.yaml", intermediate=["none"], targets=["xnli"],
                        languages={"xnli": ["en", "cog"]},
                        target_training={"epochs": 3, "batch_size": 16, "max_length": 48})
    run_dir = tmp_path / "tiny"
    stages = plan.build(config.load(sweep)).stages
    proc = start(sweep, tmp_path)  # a session of its own: its process group is the terminal's foreground
    wait_for(lambda: (run_dir / "driver.json").exists(), proc, "the run's start")
    early = status(run_dir)  # whether or not a stage record is there yet: going, and not stale
    assert early["run"]["state"] == "running" and not early["stale"] and early["eta_s"] != 0

    wait_for(lambda: any(s["phase"] == "target" and s["status"] == "running" for s in stage_records(run_dir).values()),
             proc, "a target stage's record")
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, out[-3000:]
    assert "Tuner.restore" not in out and "Traceback" not in out, out[-3000:]
    records = stage_records(run_dir)
    unfinished = [s for k, s in stages.items() if records.get(k, {}).get("status") != "done"]
    assert unfinished, "the run finished before the interrupt"
    assert f"ray-xr: {len(unfinished)} stages did not finish (run again to resume them):" in out
    for stage in unfinished:
        if stage.phase != "eval":
            running = records.get(stage.key, {}).get("status") == "running"
            assert re.search(rf"^  {re.escape(stage.label)}{' [(]interrupted: ' if running else '$'}", out, re.M), out
    assert f"and {sum(s.phase == 'eval' for s in unfinished)} evaluations" in out
    resume = out.strip().splitlines()[-1]
    assert resume.startswith("ray-xr: interrupted; finished stages are kept. Resume with: ray-xr run "), resume

    after = status(run_dir)
    assert after["run"]["state"] == "interrupted" and after["eta_s"] is None
    assert sum(c["running"] for c in after["phases"].values()) == 0
    assert sum(c["interrupted"] for c in after["phases"].values()) == sum(
        r["status"] == "running" for r in records.values())

    finished = {k: r["finished"] for k, r in records.items() if r["status"] == "done"}
    again = ray_xr(*shlex.split(resume.split("Resume with: ")[1])[1:])  # the printed command, as it is
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    records = stage_records(run_dir)
    assert all(records[k]["status"] == "done" for k in stages)
    assert {k: records[k]["finished"] for k in finished} == finished  # nothing finished ran again
    assert status(run_dir)["run"]["state"] == "finished"
