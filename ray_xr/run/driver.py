"""The driver: builds the stage graph, starts the aggregator, and runs every group of stages as a
Ray Tune trial whose function launches one Ray Train TorchTrainer.

The whole sweep is one Tune experiment: each group's trial starts as soon as the groups whose
models it reads have finished (run/schedule.py), so every shared stage exists before the stages
that read it. A chain trains its intermediate model and all its target models back to back in
one worker group, which pays the worker-group start-up once per chain instead of once per stage.
The driver, the aggregator and every trial's own actor stay on the head node (which may offer
no CPU: they ask for none). The run folder's lease (run/lease.py) keeps a second driver out,
whatever machine it runs on; a node that cannot see the run folder stops the run (run/probe.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import time

import ray
from ray import tune
from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig
from ray.tune.integration.ray_train import TuneReportCallback

from ray_xr.plan import config as cfg
from ray_xr.plan import progress
from ray_xr.errors import ClusterError, RunLockedError
from ray_xr.run import capacity, cluster, schedule
from ray_xr.run.capacity import HEAD_RESOURCE, per_worker
from ray_xr.run.lease import Lease
from ray_xr.run.probe import probe_storage
from ray_xr.run.aggregator import AGGREGATOR_NAMESPACE, RENDER_EVERY_S, Aggregator, records_of
from ray_xr.run.watch import Watch, log_headline, log_unfinished
from ray_xr.plan import Plan, recorded
from ray_xr.plan.smoke import table as smoke_table
from ray_xr.stages import RunDir, code_sha
from ray_xr.storage import join
from ray_xr.run.schedule import Dependencies

TRIAL_MEMORY = 256 * 1024**2


def trial(config: dict, groups: dict) -> None:
    """Tune function trainable: one group of stages on one data-parallel worker group (with
    resources.workers = 0, in this trial's own process: no worker group to start).

    torch and the worker loop are imported here, in the trial's process: `ray-xr run` itself
    only plans and schedules, and starts ~3 s sooner without them."""
    from ray.train.torch import TorchTrainer
    from ray_xr.run.worker import run_group, run_in_trial

    name = config["group"]["name"]
    group = groups[name]
    res = group["resources"]
    loop = {**group["loop"], "stages": group["stages"]}
    if not res["workers"]:  # the trial's own process is the one worker
        # Tune keeps metrics without the pointer checkpoint that Ray Train needs for them
        run_in_trial(loop, report=lambda metrics, checkpoint=None: tune.report(metrics))
        return
    trainer = TorchTrainer(
        run_group,
        train_loop_config=loop,
        scaling_config=ScalingConfig(num_workers=res["workers"], use_gpu=res["use_gpu"],
                                     resources_per_worker=per_worker(res)),
        run_config=RunConfig(
            name=group["train_run"],  # the group's own name, never the random trial id
            **RunDir(group["loop"]["run_dir"]).ray_storage(),
            callbacks=[TuneReportCallback()],  # epoch metrics show up in the Tune dashboard
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            failure_config=FailureConfig(max_failures=res["max_failures"]),
            logging_config=LoggingConfig(log_level="WARNING")),  # our own progress lines suffice
    )
    trainer.fit()


def _concurrency(res: cfg.Resources) -> int:
    if res.concurrency:
        return res.concurrency
    per_trial = max(1, res.workers) * res.cpus_per_worker
    cpus = ray.cluster_resources().get("CPU", 1)
    if res.use_gpu:
        gpus = ray.cluster_resources().get("GPU", 0)
        return max(1, int(min(cpus // per_trial, gpus // (max(1, res.workers) * res.gpus_per_worker))))
    return max(1, int(cpus // per_trial))


def _payload(plan: Plan, run: RunDir, aggregator: str, run_id: str, group) -> dict:
    res = plan.sweep.resources
    return {
        "stages": [dataclasses.asdict(plan.stages[k]) for k in group.stages],
        "keys": list(group.stages),
        "train_run": f"{group.name}-{hashlib.sha256(' '.join(group.stages).encode()).hexdigest()[:12]}",
        "resources": res.model_dump(),
        # the driver's commit: the nodes' installs have no checkout to ask (stages.git_sha)
        "loop": {"run_dir": run.where, "sweep": cfg.to_dict(plan.sweep), "aggregator": aggregator,
                 "run_id": run_id, "git_sha": code_sha()},
    }


class _Stop(tune.Stopper):
    """Ends every trial when the run cannot go on: another run took the folder's lease, or a
    node cannot see the run folder (its worker group told the aggregator). Tune asks at every
    step; the aggregator is asked at most once a second, without waiting for its answer."""

    def __init__(self, lease: Lease, aggregator):
        self.lease, self.aggregator, self.reason = lease, aggregator, None
        self._pending, self._asked = None, 0.0

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def __getstate__(self) -> dict:  # Tune saves the run config with the experiment; the lease stays here
        return {**self.__dict__, "lease": None}

    def stop_all(self) -> bool:
        if self.reason is None and self.lease.lost:
            self.reason = RunLockedError(self.lease.lost)
        if self.reason is None and self._pending is None and time.monotonic() - self._asked >= 1.0:
            self._pending, self._asked = self.aggregator.stopping.remote(), time.monotonic()
        if self.reason is None and self._pending is not None and ray.wait([self._pending], timeout=0)[0]:
            try:
                line = ray.get(self._pending)
            except ray.exceptions.RayError:  # restarting: it is asked again
                line = None
            self._pending = None
            self.reason = ClusterError(line) if line else None
        return self.reason is not None


def _mark_trivial(plan: Plan, run: RunDir) -> None:
    """A hub model's phase (i) is the published checkpoint: nothing to train."""
    for stage in plan.stages.values():
        if stage.phase == "pretrain" and not stage.trains and not run.is_done(stage.key):
            run.write_stage(stage, "done", cfg.to_dict(plan.sweep), {"model": stage.spec["model"]},
                            git_sha=code_sha())


def _run_experiment(plan: Plan, run: RunDir, aggregator: str, stop: _Stop,
                    log) -> tuple[list[str], Dependencies | None]:
    """Every unfinished group as a trial of one Tune experiment, each released when its parents
    are done (schedule.Dependencies); `stop` ends them all when the run cannot go on."""
    needs = schedule.after(plan)
    finished = run.done()
    done = {g.name for g in plan.groups if all(k in finished for k in g.stages)}
    todo = [g for g in plan.groups if g.name not in done]
    if not todo:
        return [], None
    log(f"ray-xr: {len(todo)} trial(s), each started when the models it reads exist: "
        + ", ".join(g.name for g in todo))
    payload = {g.name: _payload(plan, run, aggregator, stop.lease.run_id, g) for g in todo}
    res = plan.sweep.resources
    run.clear_failed()

    def failed(name: str) -> None:  # a trial waiting for this group's models ends instead
        for key in payload[name]["keys"]:
            run.mark_failed(key)

    begun = time.time()

    def computing(name: str) -> bool:  # its worker group holds its resources (a record from now)
        return any((r := run.read_stage(key)) and r["status"] == "running" and (r["started"] or 0) >= begun
                   for key in payload[name]["keys"] if plan.stages[key].phase != "eval")

    searcher = Dependencies(todo, needs, done, computing=computing, on_failure=failed)
    # The trial process only waits on its TorchTrainer, so it holds no CPU (a bundle cannot be
    # empty, and the memory is what it really uses). It lives on the head node: a trial whose
    # own actor is on a lost node fails, whatever FailureConfig says, while a lost worker node
    # only restarts the trial's worker group. With workers=0 the loop runs inside the trial,
    # which holds a worker's resources wherever they are (the head may offer no CPU).
    trial_resources = ({**per_worker(res.model_dump()), "memory": TRIAL_MEMORY} if res.workers == 0
                       else {"CPU": 0, "memory": TRIAL_MEMORY, HEAD_RESOURCE: 0.001})
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trial, groups=payload), trial_resources),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=len(todo),
                                    max_concurrent_trials=_concurrency(res)),
        run_config=tune.RunConfig(name=plan.sweep.name, verbose=0, stop=stop, **run.ray_storage()),
    )
    with Watch(run, plan):
        results = tuner.fit()
    if stop.reason is not None:  # one line, exit 2: the storage or the lease, not a stage, went wrong
        raise stop.reason
    failures = [f"{r.config['group']['name']}: {type(r.error).__name__}: {str(r.error).strip().splitlines()[-1]}"
                for r in results if r.error]
    return failures, searcher


def run(plan: Plan, storage: str, address: str | None, rerun: tuple[str, ...] = (), log=print,
        verbose: bool = False) -> int:
    """Run every unfinished stage of the sweep's plan in STORAGE/<sweep name> (a path or a bucket
    URI); `rerun` names phases whose finished stages (and everything that depends on them) run
    again; `verbose` shows the workers' lines (each epoch, each evaluation) and Ray's. The lease
    keeps a second driver out of the folder, before anything is written; driver.json says whether
    this driver is still going, and how it ended (progress.driver). Ctrl-C lists the unfinished
    stages and raises KeyboardInterrupt on."""
    run_dir = RunDir(join(str(storage), plan.sweep.name))
    lease = Lease(run_dir)
    lease.acquire()
    try:
        began = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        run_dir.write_json(progress.DRIVER, began)
        how = "error"
        try:
            code = _run_locked(plan, run_dir, address, rerun, lease, log, verbose)
            how = "failed" if code else "finished"
            return code
        except KeyboardInterrupt:
            how = "interrupted"
            log_unfinished(plan, run_dir, log)
            raise
        finally:
            run_dir.write_json(progress.DRIVER, {**began, "ended": time.time(), "exit": how})
    finally:
        lease.release()


def _run_locked(plan: Plan, run_dir: RunDir, address: str | None, rerun: tuple[str, ...], lease: Lease, log,
                verbose: bool) -> int:
    sweep = plan.sweep
    started = time.time()
    _record_plan(plan, run_dir, rerun, log)
    plan_cells = {k: list(st.cells) for k, st in plan.stages.items() if st.phase == "eval"}
    args = (run_dir.where, sweep.name, sweep.data.source_language, plan_cells, started, lease.run_id)
    failures: list[str] = []
    searcher, cluster_s, slots, reported = None, 0.0, 0, time.time()
    if set(plan.stages) <= run_dir.done():
        log("ray-xr: every stage has finished already; no cluster needed")
        path, markdown = _report_here(plan, run_dir, args)
    else:
        cluster.start(address, sweep.resources.deterministic, log, verbose)
        cluster_s = time.time() - started
        # the nodes alive now; one that joins later (an autoscaler's) is probed by its worker group
        probe_storage(run_dir, lease.run_id)
        if address:  # a joined cluster that cannot hold a worker group yet may grow (run/capacity.py)
            res = sweep.resources
            capacity.joined(per_worker(res.model_dump()), res.workers, res.node_wait_s, log)
        slots = _concurrency(sweep.resources)
        name = f"aggregator-{lease.run_id}"  # this run's: a second driver never finds it by name
        actor = _start_aggregator(name, args)
        _resend_finished(plan, run_dir, lambda records: ray.get(actor.record.remote(records)))
        failures, searcher = _run_experiment(plan, run_dir, name, _Stop(lease, actor), log)
        run_dir.clear(".probe")  # what the worker groups' probes wrote
        reported = time.time()
        try:
            path, markdown = ray.get(actor.write_report.remote(True)), ray.get(actor.markdown.remote())
        except ray.exceptions.RayError as err:  # rebuilt from disk: every acknowledged record is there
            failures.append(f"aggregator: {type(err).__name__}; report rendered from results.jsonl instead")
            path, markdown = _report_here(plan, run_dir, args)
    report_s = time.time() - reported
    log(markdown) if verbose else log_headline(run_dir, log)
    found = run_dir.records()
    records = [found[k] for k in plan.stages if k in found]
    timed = schedule.timing(started, time.time(), cluster_s, report_s, records,
                            searcher.times if searcher else {}, slots)
    run_dir.write_json("timing.json", timed)
    log(f"ray-xr: report written to {path} ({timed['wall_s']:.0f} s, of which {timed['fixed_overhead_s']:.0f} s"
        f" with no stage computing: {100 * timed['fixed_overhead_share']:.0f}%; {run_dir.show('timing.json')})")
    if sweep.smoke:  # what every stage cost: the reason for a smoke run
        text, rows = smoke_table(plan, found, failures)
        run_dir.write_json("smoke.json", rows)
        log(f"{text}\n(also in {run_dir.show('smoke.json')})")
    if failures:
        _log_failures(plan, run_dir, failures, log)
        return 1
    return 0


def _record_plan(plan: Plan, run_dir: RunDir, rerun: tuple[str, ...], log) -> None:
    """What the run folder holds before anything runs: the sweep and its plan (the keys `ray-xr
    status` reads, never recomputes); then the stages to run again are marked, and a hub model's
    pretraining as done."""
    sweep = plan.sweep
    run_dir.write_json("sweep.json", {**cfg.to_dict(sweep), "source_language": sweep.data.source_language})
    run_dir.write_json("plan.json", recorded(plan))
    s = plan.summary()
    log(f"ray-xr: sweep {sweep.name}: {s['cells']} cells, stages {s['stages']}, results in {run_dir.shown}")
    if rerun:
        _force_rerun(plan, run_dir, rerun, log)
    _mark_trivial(plan, run_dir)


def _report_here(plan: Plan, run_dir: RunDir, args: tuple) -> tuple[str, str]:
    """The report rendered in this process, by the aggregator's class from results.jsonl (and the
    finished evaluations' records it lacks): where no cluster is needed, or the actor is gone."""
    aggregator = Aggregator(*args)
    _resend_finished(plan, run_dir, aggregator.record)
    return aggregator.write_report(final=True), aggregator.markdown()


def _start_aggregator(name: str, args: tuple):
    """The run's aggregator, on the head node (never a spot worker), restarted by Ray whenever
    it dies: it rebuilds itself from results.jsonl, and calls in flight are retried. The
    driver owns it: it ends with the driver."""
    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, resources={HEAD_RESOURCE: 0.001})(
        Aggregator).options(name=name, namespace=AGGREGATOR_NAMESPACE).remote(*args, live_every_s=RENDER_EVERY_S)


def _force_rerun(plan: Plan, run: RunDir, phases: tuple[str, ...], log) -> None:
    """Mark the finished stages of these phases, and all that depends on them, to run again: their
    checkpoints and results go (a rerun starts afresh)."""
    keys = {k for k, st in plan.stages.items() if st.phase in phases or "all" in phases}
    while True:
        more = {k for k, st in plan.stages.items() if st.parent in keys} - keys
        if not more:
            break
        keys |= more
    stale = [k for k in keys if run.read_stage(k) is not None]
    for key in stale:
        run.write_stage(plan.stages[key], "rerun", cfg.to_dict(plan.sweep), git_sha=code_sha())
        run.clear_checkpoint(key)
    text = run.read_text("results.jsonl")
    if text is not None:
        run.write_text("results.jsonl", "".join(line for line in text.splitlines(keepends=True)
                                                if json.loads(line).get("stage") not in keys))
    log(f"ray-xr: --rerun {','.join(phases)}: {len(stale)} finished stage(s) will run again")


def _log_failures(plan: Plan, run: RunDir, failures: list[str], log) -> None:
    log("ray-xr: failed trials:\n  " + "\n  ".join(failures))
    log_unfinished(plan, run, log)


def _resend_finished(plan: Plan, run: RunDir, record) -> None:
    """Records of finished evaluations that results.jsonl lacks: lost on a crash, or cells a
    changed sweep added to a stage that had finished (the clean level of a new noise kind)."""
    records, found = [], run.records()
    for key, stage in plan.stages.items():
        if stage.phase == "eval" and found.get(key, {}).get("status") == "done":
            records += records_of(key, stage.cells, found[key]["metrics"]["result"])
    if records:
        record(records)
