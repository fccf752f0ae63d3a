"""One Tune experiment for the whole sweep: a searcher that releases each group's trial as soon
as the groups whose models it reads have finished, and the run's timing (timing.json).

Why a searcher: Tune asks its search algorithm for the next trial whenever a slot is free, and
a searcher may answer "nothing yet" (None) while parents still run, or FINISHED when nothing
more can start. So the dependency graph drives one experiment (one entry in the dashboard)
instead of a Tuner per wave, and no finished straggler of one level holds back the next.
A group whose parent group failed never starts; the run reports it as unfinished.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ray.tune.search import Searcher

from ray_xr.plan import Group, Plan


def after(plan: Plan) -> dict[str, set[str]]:
    """For each group, the groups holding the parents of its stages (the models it reads)."""
    owner = {key: g.name for g in plan.groups for key in g.stages}
    return {g.name: {owner[p] for key in g.stages if (p := plan.stages[key].parent) in owner} - {g.name}
            for g in plan.groups}


class Dependencies(Searcher):
    """Suggests the groups to run, each once, in plan order, each when its parents are done.

    When no group is ready and Tune has a free slot, a group whose unfinished parents are all
    computing (`computing(name)`: a stage of theirs is running, so they hold their resources)
    starts early: its worker group waits for the parents' models (worker.wait_for_parent), so
    the ~20 s of trial and worker-group start-up overlap the parents' training instead of
    following it. A slot is only taken this way when nothing ready could use it, and never
    from a parent still waiting for resources (which could then wait forever)."""

    def __init__(self, groups: list[Group], needs: dict[str, set[str]], done: set[str],
                 computing=lambda name: False, on_failure=None):
        super().__init__()
        self._todo = [g for g in groups if g.name not in done]
        self._needs, self._done = needs, set(done)
        self._running: dict[str, str] = {}  # Tune trial id -> group name
        self._computing, self._on_failure = computing, on_failure  # on_failure(failed group's name)
        self._holding: set[str] = set()  # running groups seen computing
        self.failed: set[str] = set()
        self.times: dict[str, dict[str, float]] = {}  # group -> ready, released, ended (time.time())
        now = time.time()
        for g in groups:
            if needs[g.name] <= self._done:
                self.times[g.name] = {"ready": now}

    def _next(self) -> Group | None:
        # a group that computes holds its resources until it ends: asked once, not at every
        # poll (the answer reads stage records, and Tune polls often while slots are free)
        self._holding |= {n for n in self._running.values() if n not in self._holding and self._computing(n)}
        running = self._holding & set(self._running.values())
        ready = [g for g in self._todo if self._needs[g.name] <= self._done]
        early = [g for g in self._todo if self._needs[g.name] <= self._done | running]
        return (ready or early or [None])[0]

    def suggest(self, trial_id: str):
        group = self._next()
        if group is None:
            return None if self._running else Searcher.FINISHED
        self._todo.remove(group)
        self._running[trial_id] = group.name
        self.times.setdefault(group.name, {})["released"] = time.time()
        return {"group": {"name": group.name, **group.info}}  # the trial's config in the dashboard

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        name = self._running.pop(trial_id)
        now = time.time()
        self.times[name]["ended"] = now
        if error:
            self.failed.add(name)
            if self._on_failure:
                self._on_failure(name)
            return
        self._done.add(name)
        for g in [g.name for g in self._todo] + list(self._running.values()):
            if "ready" not in self.times.get(g, {}) and self._needs[g] <= self._done:
                self.times.setdefault(g, {})["ready"] = now

    # Tune saves its searcher with the experiment; ours holds nothing a rerun needs (the stage
    # records say what is done), so it writes its timeline as JSON and restores nothing.
    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self.times))

    def restore(self, checkpoint_path: str) -> None:
        pass


def _union(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def timing(started: float, ended: float, cluster_s: float, report_s: float, records: list[dict],
           times: dict, slots: int) -> dict:
    """The run's timing: wall time, and how much of it stages (or the final report) computed.
    `records` are the stage records of stages this invocation ran; `times` the searcher's
    per-group timeline."""
    spans = {"training": [], "evaluation": []}
    for r in records:
        if r.get("started") and r.get("finished") and r["started"] >= started:
            spans["evaluation" if r["phase"] == "eval" else "training"].append((r["started"], r["finished"]))
    wall = ended - started
    computing = _union(spans["training"] + spans["evaluation"])
    trials = [t for t in times.values() if "released" in t and "ended" in t]
    busy = sum(t["ended"] - t["released"] for t in trials)
    tuned = (max(t["ended"] for t in trials) - min(t["released"] for t in trials)) if trials else 0.0
    return {
        "wall_s": round(wall, 2),
        "fixed_overhead_s": round(wall - computing - report_s, 2),
        "fixed_overhead_share": round((wall - computing - report_s) / wall, 4) if wall > 0 else 0.0,
        "training_s": round(_union(spans["training"]), 2),
        "evaluation_s": round(_union(spans["evaluation"]), 2),
        "report_s": round(report_s, 2),  # the final report: statistics, plots, HTML
        "cluster_start_s": round(cluster_s, 2),
        # trial slots without a trial while the experiment ran (waiting for parents or resources)
        "idle_s": round(max(0.0, slots * tuned - busy), 2),
        # ready (parents done) but not started; a trial started early waits for no resources
        "waiting_for_resources_s": round(sum(max(0.0, t["released"] - t.get("ready", t["released"]))
                                             for t in trials), 2),
        "trials": len(trials),
        "concurrency": slots,
    }
