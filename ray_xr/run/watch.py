"""What `ray-xr run` shows of a run. While its trials go, one line of progress.line (stages done
of each phase, running and interrupted ones, the tokens per second of the running training
stages, the time left) with the time since the run began, read from the run folder; at the end,
the report's headline, or the stages left unfinished.

In a terminal the line is redrawn in place every POLL_S; into a file or a pipe (a log, CI) a
new line is written when the stages' states change, at most every QUIET_S or a tenth of the
time the run has taken, whichever is longer, and at least every HEARTBEAT_S: a log grows with the
logarithm of the run's length (the demo: under 30 lines, whether it takes 5 minutes or 16 on a
busy machine). Each look reads every stage record (from a bucket, what changed since the last
look), hence no more often than that.
"""
from __future__ import annotations

import json
import shutil
import sys
import threading
import time

from ray_xr.plan import progress
from ray_xr.errors import RayXRError
from ray_xr.plan import Plan
from ray_xr.stages import RunDir

POLL_S = 5.0
QUIET_S = 20.0
HEARTBEAT_S = 300.0


class Watch:
    def __init__(self, run: RunDir, p: Plan, out=None):
        self.run, self.plan = run, p
        self.began = progress.driver(run).get("started") or time.time()
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="ray-xr-watch", daemon=True)
        self.shown, self.shown_at, self.drawn = None, 0.0, False

    def __enter__(self) -> "Watch":
        self.thread.start()
        return self

    def __exit__(self, kind, *exc) -> None:
        self.stop.set()
        self.thread.join()
        if kind is None:  # where the trials ended, once more
            self._look(final=True)
        if self.drawn:  # the line redrawn in place ends where the next output starts
            self.out.write("\n")
            self.out.flush()

    def _loop(self) -> None:
        while not self.stop.wait(POLL_S if self.tty else QUIET_S):
            self._look()

    def _look(self, final: bool = False) -> None:
        try:
            self.show(self.view(), final)
        except (OSError, ValueError, KeyError, RayXRError):  # a file read mid-write: the next look sees it whole
            pass

    def view(self) -> tuple[str, str]:
        """(the line, what it says without the clock and the time left: a change is worth a line)."""
        found = progress.status(self.run, p=self.plan)
        speeds = progress.rates(self.run, self.run.records(), since=found["run"].get("started") or self.began)
        counts = str([(ph, c["done"], c["running"]) for ph, c in found["phases"].items()])
        hours, seconds = divmod(int(time.time() - self.began), 3600)
        clock = (f"{hours}:" if hours else "") + f"{seconds // 60:0{2 if hours else 1}d}:{seconds % 60:02d}"
        return f"ray-xr: {clock} {progress.line(found, speeds)}", counts

    def quiet(self) -> float:
        """The least time between two lines of a log: a tenth of the run so far, QUIET_S at least."""
        return max(QUIET_S, (time.time() - self.began) / 10)

    def show(self, view: tuple[str, str], final: bool = False) -> None:
        """`final`: the last look, shown whenever it says something new."""
        text, counts = view
        now = time.monotonic()
        if self.tty:
            self.out.write("\r\033[K" + text[:shutil.get_terminal_size().columns - 1])  # one row, redrawn
            self.drawn = True
        elif (counts != self.shown and (final or now - self.shown_at >= self.quiet())
              or now - self.shown_at >= HEARTBEAT_S):
            self.out.write(text + "\n")
            self.shown, self.shown_at = counts, now
        self.out.flush()


def log_unfinished(plan: Plan, run: RunDir, log) -> None:
    """The stages a run leaves unfinished (failed trials, Ctrl-C), each training stage by name
    with whether it continues from a checkpoint."""
    records, failed = run.records(), run.failed()
    unfinished = [s for s in plan.stages.values() if records.get(s.key, {}).get("status") != "done"]

    def note(key: str) -> str:
        if records.get(key, {}).get("status") != "running":
            return ""
        how = "failed" if key in failed else "interrupted"  # its trial raised, or the run was stopped
        kept = run.read_text(f"stages/{key}/checkpoint/latest.json") is not None
        return f" ({how}: continues from its checkpoint)" if kept else f" ({how}: starts again)"

    if not unfinished:  # stopped after its last stage, while the report was written
        log("ray-xr: every stage had finished")
        return
    trained = [f"  {s.label}{note(s.key)}" for s in unfinished if s.phase != "eval"]
    evals = sum(s.phase == "eval" for s in unfinished)
    log("\n".join([f"ray-xr: {len(unfinished)} stages did not finish (run again to resume them):", *trained]
                  + ([f"  {'and ' if trained else ''}{evals} evaluations"] if evals else [])))


def log_headline(run: RunDir, log) -> None:
    """The report's headline (report/summary.json), the full report being a file away."""
    text = run.read_text("report/summary.json")
    items = [h["text"] for h in json.loads(text).get("headline", [])] if text else []
    if items:
        log("ray-xr: headline (report.html beside the report has the tables, intervals and plots):\n  - "
            + ".\n  - ".join(items) + ".")
