"""The driver: builds the stage graph, starts the aggregator, and runs every group of stages as a
Ray Tune trial whose function launches one Ray Train TorchTrainer.

Groups run in waves (pretraining first, then the (intermediate, seed) chains), so every shared
stage exists before the stages that read it. A chain trains its intermediate model and all its
target models back to back in one worker group, which pays the worker-group start-up once per
chain instead of once per stage.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
from pathlib import Path

import ray
from ray import tune
from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from ray_xr import config as cfg
from ray_xr.errors import ClusterError
from ray_xr.run.aggregator import Aggregator
from ray_xr.run.evaluate import AGGREGATOR_NAMESPACE
from ray_xr.plan import Plan, build
from ray_xr.stages import RunDir, write_json
from ray_xr.run.worker import run_group

TRIAL_MEMORY = 256 * 1024**2


def trial(config: dict, groups: dict) -> None:
    """Tune function trainable: one group of stages on one data-parallel worker group."""
    name = config["group"]["name"]
    group = groups[name]
    res = group["resources"]
    trainer = TorchTrainer(
        run_group,
        train_loop_config={**group["loop"], "stages": group["stages"]},
        scaling_config=ScalingConfig(num_workers=res["workers"], use_gpu=res["use_gpu"],
                                     resources_per_worker={"CPU": res["cpus_per_worker"]}),
        run_config=RunConfig(
            name=f"{name}-{tune.get_context().get_trial_id()}",
            storage_path=group["loop"]["ray_storage"],
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
        return max(1, int(min(cpus // per_trial, ray.cluster_resources().get("GPU", 0) // max(1, res.workers))))
    return max(1, int(cpus // per_trial))


def _payload(plan: Plan, run: RunDir, aggregator: str, group) -> dict:
    res = plan.sweep.resources
    return {
        "stages": [dataclasses.asdict(plan.stages[k]) for k in group.stages],
        "resources": res.model_dump(),
        "loop": {"run_dir": str(run.root.resolve()), "sweep": cfg.to_dict(plan.sweep), "aggregator": aggregator,
                 "ray_storage": str((run.root / "ray").resolve())},
    }


def _mark_trivial(plan: Plan, run: RunDir) -> None:
    """A hub model's phase (i) is the published checkpoint: nothing to train."""
    for stage in plan.stages.values():
        if stage.phase == "pretrain" and not stage.trains and not run.is_done(stage.key):
            run.write_stage(stage, "done", cfg.to_dict(plan.sweep), {"model": stage.spec["model"]})


def _run_wave(plan: Plan, run: RunDir, aggregator: str, wave: int, log) -> list[str]:
    todo = [g for g in plan.groups if g.wave == wave and not all(run.is_done(k) for k in g.stages)]
    if not todo:
        return []
    log(f"wave {wave}: {len(todo)} trial(s): {', '.join(g.name for g in todo)}")
    payload = {g.name: _payload(plan, run, aggregator, g) for g in todo}
    conc = _concurrency(plan.sweep.resources)
    res = plan.sweep.resources
    # The trial process only waits on its TorchTrainer, so it holds no CPU (a bundle cannot be
    # empty, and the memory is what it really uses); with workers=0 the loop runs inside it.
    trial_resources = {"CPU": res.cpus_per_worker if res.workers == 0 else 0, "memory": TRIAL_MEMORY}
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trial, groups=payload), trial_resources),
        # the trial config shown in the dashboard: which chain and what it trains
        param_space={"group": tune.grid_search([{"name": g.name, **g.info} for g in todo])},
        tune_config=tune.TuneConfig(max_concurrent_trials=conc),
        run_config=tune.RunConfig(name=f"{plan.sweep.name}-wave{wave}", storage_path=str((run.root / "ray").resolve()),
                                  verbose=0),
    )
    results = tuner.fit()
    return [f"{r.config['group']['name']}: {type(r.error).__name__}: {str(r.error).strip().splitlines()[-1]}"
            for r in results if r.error]


def run(sweep: cfg.Sweep, storage: Path, address: str | None, log=print) -> int:
    plan = build(sweep)
    run_dir = RunDir(storage / sweep.name)
    run_dir.root.mkdir(parents=True, exist_ok=True)
    write_json(run_dir.root / "sweep.json", {**cfg.to_dict(sweep), "source_language": sweep.data.source_language})
    s = plan.summary()
    log(f"ray-xr: sweep {sweep.name}: {s['cells']} cells, stages {s['stages']}, results in {run_dir.root}")
    t0 = time.perf_counter()
    _mark_trivial(plan, run_dir)
    args = (str(run_dir.root.resolve()), sweep.name, sweep.data.source_language)
    if all(run_dir.is_done(k) for k in plan.stages):
        log("ray-xr: every stage has finished already; no cluster needed")
        aggregator = Aggregator(*args)  # the actor's class, used in-process
        _resend_finished(plan, run_dir, aggregator.record)
        path, markdown, failures = aggregator.write_report(), aggregator.markdown(), []
    else:
        _init_ray(address, log)
        name = f"aggregator-{sweep.name}"
        actor = ray.remote(num_cpus=0)(Aggregator).options(
            name=name, namespace=AGGREGATOR_NAMESPACE, get_if_exists=True).remote(*args)
        _resend_finished(plan, run_dir, lambda records: ray.get(actor.record.remote(records)))
        failures = _run_waves(plan, run_dir, name, log)
        path, markdown = ray.get(actor.write_report.remote()), ray.get(actor.markdown.remote())
    log(markdown)
    log(f"ray-xr: report written to {path} ({time.perf_counter() - t0:.0f} s)")
    if failures:
        _log_failures(plan, run_dir, failures, log)
        return 1
    return 0


def _run_waves(plan: Plan, run: RunDir, aggregator: str, log) -> list[str]:
    for wave in sorted({g.wave for g in plan.groups}):
        failures = _run_wave(plan, run, aggregator, wave, log)
        if failures:
            return failures  # later waves need this one's models
    return []


def _log_failures(plan: Plan, run: RunDir, failures: list[str], log) -> None:
    unfinished = [s for s in plan.stages.values() if not run.is_done(s.key)]
    log("ray-xr: failed trials:\n  " + "\n  ".join(failures))
    log(f"ray-xr: {len(unfinished)} stages did not finish (run again to resume them):\n  "
        + "\n  ".join(s.label for s in unfinished if s.phase != "eval")
        + f"\n  and {sum(s.phase == 'eval' for s in unfinished)} evaluations")


def _resend_finished(plan: Plan, run: RunDir, record) -> None:
    """Records of evaluations finished in an earlier run that results.jsonl lacks (lost on a crash)."""
    records = []
    for key, stage in plan.stages.items():
        if stage.phase == "eval" and run.is_done(key):
            records += run.read_stage(key)["metrics"].get("records", [])
    if records:
        record(records)


def _answers(address: str) -> bool:
    """Whether anything listens at an explicit host:port: Ray retries such an address for many
    minutes. Other forms ("auto") are Ray's own lookup, which fails within seconds."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return False
    return True


def _init_ray(address: str | None, log) -> None:
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: our progress lines, not Tune's boxes
    if address:
        if not _answers(address):
            raise ClusterError(f"--address {address}: nothing answers there; start the cluster (`ray up`, or"
                               " `ray start --head` on its head node) or check the address")
        try:
            ray.init(address=address, log_to_driver=True)
        except ConnectionError as err:
            raise ClusterError(f"--address {address}: {str(err).splitlines()[0]}") from None
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=True, log_to_driver=True,
                 runtime_env={"env_vars": {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}})
    log(f"ray-xr: Ray cluster with {ray.cluster_resources().get('CPU', 0):.0f} CPUs; watch the trials in the"
        " dashboard (Jobs/Train/Tune), signing in with the token that `ray get-auth-token` prints")
    sys.stdout.flush()
