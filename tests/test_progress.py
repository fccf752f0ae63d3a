"""`ray-xr status RUN_DIR`: stages per phase and state, and the time left, from the run folder;
whether its run is going, from driver.json. (A real run interrupted by Ctrl-C: test_interrupt.)"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from ray_xr import cli, plan
from ray_xr.plan import config, progress
from ray_xr.stages import RunDir
from tests.conftest import REPO


@pytest.fixture
def run(tmp_path):
    p = plan.build(config.load(REPO / "sweeps" / "local.yaml"))
    (tmp_path / "plan.json").write_text(json.dumps(plan.recorded(p)))  # as the driver records it
    return RunDir(tmp_path), p


def mark(run: RunDir, stage, status: str, started: float, seconds: float | None = None) -> None:
    run.write_stage(stage, status, {}, started=started, git_sha=None)
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
    assert phases["pretrain"] == {"done": 1, "running": 0, "interrupted": 0, "failed": 0, "todo": 0, "total": 1}
    assert phases["target"] == {"done": 3, "running": 1, "interrupted": 0, "failed": 0,
                                "todo": len(by_phase["target"]) - 4, "total": len(by_phase["target"])}
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
    assert progress.line(found, {"target": 12345.6}).startswith(
        "pretrain 1/1, intermediate 6/6, target 3/27 (1 running, 12,346 tok/s), eval 2/")


def test_a_running_stage_of_a_stale_run_counts_as_interrupted(run):
    """Without driver.json (a folder of an older version) only the folder's age tells."""
    run_dir, p = run
    target = next(s for s in p.stages.values() if s.phase == "target")
    mark(run_dir, target, "running", 0.0)
    found = progress.status(run_dir.root, now=run_dir.stage_dir(target.key).joinpath("stage.json").stat().st_mtime
                            + progress.STALE_S + 1)
    assert found["stale"] and found["phases"]["target"]["interrupted"] == 1
    assert found["phases"]["target"]["running"] == 0 and found["run"] == {"state": "unknown"}


def driver_record(run_dir: RunDir, pid: int, started: float, **more) -> None:
    run_dir.write_json(progress.DRIVER, {"pid": pid, "host": socket.gethostname(), "started": started, **more})


def test_right_before_the_first_stage_file_a_run_is_going_and_not_stale(run):
    """The driver has written sweep.json and driver.json, no stage has a record yet: nothing is
    stale, however long the stages take to start (the age counts from the run's start, not from
    the epoch), and the run is going (its driver's process is alive: this one)."""
    run_dir, _ = run
    started = time.time()
    driver_record(run_dir, os.getpid(), started)
    for now in (started + 30, started + progress.STALE_S - 1):
        found = progress.status(run_dir.root, now=now)
        assert not found["stale"] and found["run"]["state"] == "running"
        assert all(c["todo"] == c["total"] for c in found["phases"].values())
    table = progress.table(progress.status(run_dir.root, now=started + 30))
    assert "stale" not in table and f"run: going (`ray-xr run`, PID {os.getpid()}" in table


def test_a_dead_driver_interrupts_its_running_stages(run):
    """A driver killed without a word (its process gone; a PID reused later is another process),
    and one that ended (Ctrl-C): its running stages are interrupted, at once, and nothing is
    estimated for a run that is not going."""
    run_dir, p = run
    target = next(s for s in p.stages.values() if s.phase == "target")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    started = time.time()
    mark(run_dir, target, "running", started + 1)
    for driver in ({"pid": dead.pid}, {"pid": os.getpid(), "started": started - 3600},  # an older run of this PID
                   {"pid": os.getpid(), "ended": started + 5, "exit": "interrupted"}):
        driver_record(run_dir, **{"started": started, **driver})
        found = progress.status(run_dir.root, now=started + 10)
        assert found["phases"]["target"]["interrupted"] == 1 and found["phases"]["target"]["running"] == 0, driver
        assert found["eta_s"] is None and not found["stale"]
    assert found["run"]["state"] == "interrupted"
    table = progress.table(found)
    assert "run: interrupted at " in table and "time left: none: no run is going" in table


def test_a_stage_whose_trial_raised_counts_as_failed_once_its_run_ended(run):
    """The driver marks the stages of a trial that raised (RunDir.mark_failed); the one that had
    begun is failed, not interrupted, once the run has ended; one of another trial stays interrupted."""
    run_dir, p = run
    first, second = [s for s in p.stages.values() if s.phase == "target"][:2]
    started = time.time()
    for stage in (first, second):
        mark(run_dir, stage, "running", started + 1)
    run_dir.mark_failed(first.key)
    driver_record(run_dir, pid=os.getpid(), started=started, ended=started + 5, exit="failed")
    target = progress.status(run_dir.root, now=started + 10)["phases"]["target"]
    assert (target["failed"], target["interrupted"], target["running"]) == (1, 1, 0), target


def test_a_running_record_from_before_this_run_began_is_interrupted(run):
    """A stage left running by an earlier run is not running in this one (until this one
    starts it again, with a new record)."""
    run_dir, p = run
    target = next(s for s in p.stages.values() if s.phase == "target")
    started = time.time()
    mark(run_dir, target, "running", started - 600)
    driver_record(run_dir, os.getpid(), started)
    found = progress.status(run_dir.root, now=started + 10)
    assert found["run"]["state"] == "running" and found["phases"]["target"]["interrupted"] == 1


def test_status_command(run, capsys):
    run_dir, _ = run
    assert cli.main(["status", str(run_dir.root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["phase", "done", "running", "interrupted", "failed", "to", "do", "total"]
    assert "pretrain" in out and "time left: unknown" in out
    assert cli.main(["status", str(run_dir.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["phases"]["eval"]["done"] == 0
    assert cli.main(["status", str(run_dir.root / "nowhere")]) == 2


def test_the_running_stages_speed_comes_from_their_last_checkpoint(run):
    run_dir, p = run
    targets = [s for s in p.stages.values() if s.phase == "target"][:3]
    started = time.time()
    for target, speed in zip(targets, (1000.0, 2500.0, None)):
        mark(run_dir, target, "running", started)
        if speed:  # checkpoints.save's files: latest.json naming the folder whose state.json has the position
            folder = run_dir.checkpoint_dir(target.key)
            run_dir.write_json(f"stages/{target.key}/checkpoint/latest.json", {"folder": "e1-s0"})
            (folder / "e1-s0").mkdir()
            (folder / "e1-s0" / "state.json").write_text(json.dumps(
                {"position": {"epoch": 1, "extra": {"epoch": 1, "tokens_per_s": speed}}}))
    assert progress.rates(run_dir, run_dir.records()) == {"target": 3500.0}
    assert progress.rates(run_dir, run_dir.records(), since=started + 1) == {}  # begun before this run


class Screen(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_the_run_shows_one_line_redrawn_in_a_terminal_and_few_lines_in_a_log(run, tty):
    """`ray-xr run`'s view (run/watch.py): in a terminal one line, redrawn in place; into a log a
    line only when a stage changed state and the last line is QUIET_S old."""
    from ray_xr.run import watch

    run_dir, p = run
    driver_record(run_dir, os.getpid(), time.time())
    screen = Screen(tty)
    view = watch.Watch(run_dir, p, out=screen)
    view.show(view.view())
    view.show(view.view())  # nothing changed
    target = next(s for s in p.stages.values() if s.phase == "target")
    mark(run_dir, target, "running", time.time())
    view.show(view.view())  # a change, but the last line is new
    targets = f"target 0/{p.count('target')}"  # however many seeds the demo sweep has
    if tty:
        frames = screen.getvalue().split("\r\033[K")[1:]
        assert len(frames) == 3 and "\n" not in screen.getvalue()
        assert frames[-1].startswith("ray-xr: 0:") and f"{targets} (1 running)" in frames[-1]
        return
    assert screen.getvalue().count("\n") == 1 and f"{targets}," in screen.getvalue()
    view.shown_at -= watch.QUIET_S
    view.show(view.view())
    lines = screen.getvalue().splitlines()
    assert len(lines) == 2 and f"{targets} (1 running)" in lines[1]
    for stage in p.stages.values():
        mark(run_dir, stage, "done", time.time(), 1)
    view.show(view.view(), final=True)  # the last look, however soon after the one before
    assert screen.getvalue().splitlines()[-1].endswith("; finished")


def test_a_long_runs_log_gets_a_line_at_most_every_tenth_of_its_time(run):
    """16 minutes into a run (the demo on a busy machine), a change 20 s after the last line waits:
    the next line comes 96 s after it, so a log grows with the logarithm of the run's length."""
    from ray_xr.run import watch

    run_dir, p = run
    driver_record(run_dir, os.getpid(), time.time() - 960)
    screen = Screen(False)
    view = watch.Watch(run_dir, p, out=screen)
    view.show(view.view())
    stages = iter(s for s in p.stages.values() if s.phase == "target")
    for back, lines in ((watch.QUIET_S, 1), (97, 2)):
        mark(run_dir, next(stages), "done", time.time(), 1)  # a change each time
        view.shown_at = time.monotonic() - back
        view.show(view.view())
        assert screen.getvalue().count("\n") == lines, (back, screen.getvalue())
