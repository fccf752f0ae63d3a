"""`ray-xr status RUN_DIR`: stages per phase and state, and the time left, from the run folder."""
from __future__ import annotations

import json

import pytest

from ray_xr import cli, config, plan, progress
from ray_xr.stages import RunDir
from tests.conftest import REPO


@pytest.fixture
def run(tmp_path):
    sweep = config.load(REPO / "sweeps" / "local.yaml")
    (tmp_path / "sweep.json").write_text(json.dumps({**config.to_dict(sweep), "source_language": "en"}))
    return RunDir(tmp_path), plan.build(sweep)


def mark(run: RunDir, stage, status: str, started: float, seconds: float | None = None) -> None:
    run.write_stage(stage, status, {}, started=started)
    if seconds is not None:  # a done stage's finish time, set by hand
        path = run.stage_dir(stage.key) / "stage.json"
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "finished": started + seconds}))


def test_counts_and_time_left(run):
    run_dir, p = run
    by_phase = {ph: [s for s in p.stages.values() if s.phase == ph] for ph in plan.PHASES}
    pre = by_phase["pretrain"][0]
    evals = by_phase["eval"]
    t0 = 1_000_000.0
    mark(run_dir, pre, "done", t0, 60)
    for inter in by_phase["intermediate"]:
        mark(run_dir, inter, "done", t0 + 60, 30)  # all at once: 30 s of wall time
    for target in by_phase["target"][:3]:
        mark(run_dir, target, "done", t0 + 90, 10)
    mark(run_dir, by_phase["target"][3], "running", t0 + 100)
    found = progress.status(run_dir.root, now=t0 + 120)
    phases = found["phases"]
    assert phases["pretrain"] == {"done": 1, "running": 0, "failed": 0, "todo": 0, "total": 1}
    assert phases["target"] == {"done": 3, "running": 1, "failed": 0, "todo": len(by_phase["target"]) - 4,
                                "total": len(by_phase["target"])}
    assert phases["eval"]["todo"] == len(evals)
    assert found["eta_s"] is None  # no evaluation has finished: no basis for the eval phase
    for e in evals[:2]:
        mark(run_dir, e, "done", t0 + 100, 2)
    found = progress.status(run_dir.root, now=t0 + 120)
    # work left: the targets but 3 x 10 s + (evals - 2) x 2 s; parallelism: 60 + intermediates x 30
    # + 3 x 10 + 2 x 2 s of stage time over 102 s of wall time (t0 to the last finish, t0 + 102);
    # the running target is still to do
    work = (len(by_phase["target"]) - 3) * 10 + (len(evals) - 2) * 2
    busy = 60 + len(by_phase["intermediate"]) * 30 + 3 * 10 + 2 * 2
    assert found["eta_s"] == pytest.approx(work / (busy / 102))
    assert progress.line(found).startswith("pretrain 1/1, intermediate 6/6, target 3/27 (1 running), eval 2/")


def test_a_running_stage_of_a_stale_run_counts_as_failed(run):
    run_dir, p = run
    target = next(s for s in p.stages.values() if s.phase == "target")
    mark(run_dir, target, "running", 0.0)
    found = progress.status(run_dir.root, now=run_dir.stage_dir(target.key).joinpath("stage.json").stat().st_mtime
                            + progress.STALE_S + 1)
    assert found["stale"] and found["phases"]["target"]["failed"] == 1 and found["phases"]["target"]["running"] == 0


def test_status_command(run, capsys):
    run_dir, _ = run
    assert cli.main(["status", str(run_dir.root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["phase", "done", "running", "failed", "to", "do", "total"]
    assert "pretrain" in out and "time left: unknown" in out
    assert cli.main(["status", str(run_dir.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["phases"]["eval"]["done"] == 0
    assert cli.main(["status", str(run_dir.root / "nowhere")]) == 2
