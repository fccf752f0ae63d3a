"""The aggregator: one Ray actor per run folder that owns results.jsonl and the robustness tables.

results.jsonl is a view of the current plan: every record names the evaluation stage that made
it (`stage`), and the file holds exactly the records of the plan's evaluation stages, so a
changed sweep rerun under the same name never shows a number of its old stages. Evaluation
workers send their records; each new one is appended (fsync) before the call returns, so an
acknowledged result is never lost. In a bucket (storage.py) the file is kept on the head node and
goes up whole with every live report and the final one; an acknowledged record the bucket's copy
lacks is also in its stage's record, which the driver sends again when the run restarts
(driver._resend_finished). Records are keyed by (stage, cell), so a stage re-run after a
crash or a restarted actor never doubles one. The actor restarts when it dies (driver.py) and
rebuilds itself from the file. The class is plain Python: the driver makes it an actor.

It is also the run's one actor that every node reaches without the storage: a worker group
whose node cannot see the run folder tells it why (run/probe.py), and the driver, which asks
it, stops the run. Before each upload it checks that its run still holds the folder's lease
(run/lease.py), so a run that lost the folder never writes over another run's results.

`record()` only appends and acknowledges: an evaluation worker waits for it, and a report of a
full-scale run takes minutes (bench/report_scale.py). The live report is rendered by a thread of
the actor's own, every RENDER_EVERY_S while new records arrive; a lock guards the records and
the file, held for the append or a copy of the records, never for a report.
"""
from __future__ import annotations

import json
import os
import threading
import time

from ray_xr.plan import progress
from ray_xr.errors import RayXRError
from ray_xr.report import render, results, xtreme
from ray_xr.run import lease
from ray_xr.stages import RunDir, write_text

CELL_FIELDS = ("intermediate", "target", "seed", "noise", "level", "language")
RENDER_EVERY_S = 10.0  # live tables for someone watching the run folder
AGGREGATOR_NAMESPACE = "ray-xr"


def records_of(key: str, cells, result: dict) -> list[dict]:
    """The results.jsonl records of an evaluation: one per grid cell it serves (the plan's cells,
    so a finished stage serves a cell that a later sweep adds, e.g. a new kind's clean level)."""
    return [{**cell, "stage": key, **result} for cell in cells]


def record_key(record: dict) -> tuple:
    return (record.get("stage"),) + tuple(record[k] for k in CELL_FIELDS)


class Aggregator:
    def __init__(self, run_dir: str, run_name: str, source_language: str, plan_cells: dict[str, list[dict]],
                 run_started: float, run_id: str | None = None, live_every_s: float | None = None):
        """`plan_cells`: each evaluation stage of the plan -> the grid cells it serves;
        `run_started`: when this run began (time.time() on this node); `run_id`: the run whose
        lease it checks (None: a report outside a run, no lease to check); `live_every_s`: render
        the live report that often (on a thread of its own) while new records arrive."""
        self.run, self.run_id, self.stopped = RunDir(run_dir), run_id, None
        self.run_dir, self.run_name, self.source = self.run.root, run_name, source_language
        self.path = self.run.results
        # Between runs the bucket's copy is the one that counts; once this run has written this
        # node's copy, that copy is ahead of the bucket's (which goes up with each report), so
        # an actor restarted mid-run keeps it
        if self.run.bucket and not (self.path.exists() and self.path.stat().st_mtime >= run_started):
            self.run.root.mkdir(parents=True, exist_ok=True)
            self.path.unlink(missing_ok=True)
            self.run.pull(("results.jsonl",))
        self.wanted = {(key,) + tuple(c[k] for k in CELL_FIELDS) for key, cells in plan_cells.items() for c in cells}
        self.records: dict[tuple, dict] = {}
        if self.path.exists():
            self._repair_tail()
            loaded = results.load_results(self.run_dir)
            self.records = {record_key(r): r for r in loaded if record_key(r) in self.wanted}
            if len(self.records) != len(loaded):  # records of stages no longer in the plan
                self._rewrite()
        self.lock = threading.Lock()  # self.records and results.jsonl
        self.rendering = threading.Lock()  # one report at a time; the final one last
        self.rendered = len(self.records)  # records behind the last report
        self.closed = False
        if live_every_s:
            threading.Thread(target=self._live, args=(live_every_s,), name="live-report", daemon=True).start()

    def _repair_tail(self) -> None:
        # A crash mid-append can leave half a line; it was never acknowledged, so drop it.
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def _rewrite(self) -> None:
        """results.jsonl as the current records, sorted by cell: the same results give the same
        bytes, whatever order the stages finished in. Atomic (temp + rename)."""
        ordered = sorted(self.records.values(), key=lambda r: json.dumps([r[k] for k in CELL_FIELDS]))
        write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in ordered))

    def record(self, records: list[dict]) -> int:
        """Append the new records (fsync) and return how many there are: nothing else, so that
        the evaluation waiting for it goes on at once."""
        with self.lock:
            new = [r for r in records if record_key(r) in self.wanted and record_key(r) not in self.records]
            if new:
                with open(self.path, "a") as f:
                    f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in new)
                    f.flush()
                    os.fsync(f.fileno())
                self.records.update((record_key(r), r) for r in new)
            return len(self.records)

    def stop(self, reason: str) -> None:
        """A worker says the run cannot go on (the first reason is kept); the driver asks `stopping`."""
        self.stopped = self.stopped or reason

    def stopping(self) -> str | None:
        return self.stopped

    def _live(self, every_s: float) -> None:
        while not self.closed:
            time.sleep(every_s)
            if self.closed or len(self.records) == self.rendered:
                continue
            try:
                self.write_report(final=False)
            except Exception as err:  # noqa: BLE001 - a live table that fails must not end the run
                print(f"[ray-xr] live report failed ({type(err).__name__}: {err}); the final one follows the run",
                      flush=True)

    def write_report(self, final: bool = False) -> str:
        """The report of the records so far; `final` also sorts results.jsonl and draws the
        plots; a live one (not final) prints where the run stands."""
        with self.rendering:
            if self.closed and not final:  # the final report is written: nothing live after it
                return str(self.run_dir / "report" / "robustness.md")
            self.closed = final
            with self.lock:
                if final:
                    self._rewrite()
                records = list(self.records.values())
            self.rendered = len(records)
            return self._render(records, final)

    def _render(self, records: list[dict], final: bool) -> str:
        self.run.pull(skip=("results.jsonl",))  # the outcomes and records that workers on other nodes wrote
        try:
            found = progress.status(self.run)
        except RayXRError:  # no sweep.json (a folder not made by the driver): no progress
            found = None
        path = render.write_report(self.run_dir, records, self.run_name, self.source, final=final, progress=found)
        xtreme.write(self.run_dir, records)
        if self.run_id:  # another run may have taken the folder: never upload over its results
            lease.check(self.run, self.run_id)
        if self.run.bucket and self.path.exists():  # as of a whole record: record() may be appending
            with self.lock:
                data = self.path.read_bytes()
            self.run.bucket.write("results.jsonl", data)
        self.run.push("report")
        return self.run.show(f"report/{path.name}") if self.run.bucket else str(path)

    def markdown(self) -> str:
        """The report as last written (with its statistics), else the tables alone."""
        written = self.run_dir / "report" / "robustness.md"
        if written.exists():
            return written.read_text(encoding="utf-8")
        return render.render_markdown(list(self.records.values()), self.run_name, self.source)
