"""Data parallelism: every family trained and evaluated by 2 Ray Train workers (gloo, 1 thread
each), with accumulated, length-grouped micro-batches, and the 2-worker evaluations (the
model-aware attack too, in a run of its own on the same models) equal a 1-worker evaluation of
the same models exactly. The dev sets (4 examples, batches of 8) give rank 1 no dev batch."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from ray_xr.plan import config
from ray_xr.noise import NoiseResources
from ray_xr.plan import Stage
from ray_xr.run.evaluate import score, target_model
from ray_xr.run.models import load_task_model, load_tokenizer
from ray_xr.run.context import Worker
from ray_xr.stages import RunDir
from ray_xr.tasks import get_task
from ray_xr.tasks.families import FAMILIES
from ray_xr.tasks.load import load_split, noisy
from tests.conftest import ray_xr, write_sweep

TARGETS = {"xnli": "classification", "udpos": "tagging", "xcopa": "multiple_choice", "xquad": "qa",
           "tatoeba": "retrieval", "lareqa": "ranking"}
TEST_SIZE = 21  # odd, and not a multiple of the batch size: shards of unequal length


# micro-batches of 8 (4 a worker) accumulated to 16 a step (all-reduced on the second only)
PHASE = {"epochs": 1, "batch_size": 8, "effective_batch_size": 16, "max_length": 48, "length_grouped": True}
DEV_SIZE = 4  # one dev batch (of batch_size 8): rank 0 scores it, rank 1 has none
SETTINGS = dict(name="ddp", intermediate=["none"],
                data={"source": "synthetic", "train_size": 48, "dev_size": DEV_SIZE, "test_size": TEST_SIZE},
                target_training=PHASE, resources={"workers": 2, "cpus_per_worker": 1})


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    sweep = write_sweep(tmp / "ddp.yaml", targets=list(TARGETS), languages={t: ["en", "cog"] for t in TARGETS},
                        **SETTINGS)
    result = ray_xr("run", str(sweep), "--storage", str(tmp / "runs"), timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return config.load(sweep), tmp / "runs" / "ddp"


def stage_records(run_dir) -> list[dict]:
    return [json.loads(p.read_text()) for p in (run_dir / "stages").glob("*/stage.json")]


def test_every_family_trains_and_evaluates_on_two_workers(two_worker_run):
    sweep, run_dir = two_worker_run
    records = [json.loads(line) for line in (run_dir / "results.jsonl").open()]
    assert {r["target"] for r in records} == set(TARGETS)
    assert len(records) == len(TARGETS) * 2 * 2  # targets x languages x levels
    for r in records:  # every test example (ranking: every query) evaluated exactly once
        assert r["n"] == TEST_SIZE, r
    stages = stage_records(run_dir)
    assert all(s["status"] == "done" for s in stages)
    assert {s["spec"]["workers"] for s in stages if s["phase"] in ("intermediate", "target")} == {2}


def test_two_worker_evaluation_equals_one_worker_evaluation_exactly(two_worker_run):
    sweep, run_dir = two_worker_run
    run = RunDir(run_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray Train worker had
    try:
        w = Worker(run, sweep, aggregator="", rank=0, world=1, device=torch.device("cpu"), git_sha=None)
        checked = set()
        for path in sorted((run_dir / "stages").glob("*/stage.json")):
            record = json.loads(path.read_text())
            if record["phase"] != "eval":
                continue
            stage = Stage(record["key"], "eval", record["spec"], record["parent"], record["label"])
            spec, task = stage.spec, get_task(stage.spec["task"])
            model, tokenizer = target_model(w, stage.parent, task)
            examples = noisy(load_split(task.name, "test", spec["language"], spec["data"]), task.name,
                             spec["noise"], spec["level"], spec["language"], spec["noise_seed"],
                             resources=NoiseResources())
            value, _ = score(w, model, task, examples, tokenizer, spec["max_length"], spec["batch_size"],
                             spec["language"], spec["options"])
            assert value == record["metrics"]["result"]["value"], record["label"]
            checked.add(task.family)
        assert checked == set(TARGETS.values())
    finally:
        torch.set_num_threads(threads)


def test_a_rank_without_a_dev_batch_finishes_with_the_score_of_one_worker(two_worker_run):
    """Model selection scores the dev set on the module inside DDP: a DDP forward broadcasts
    buffers, which a rank without a dev batch never joins (it hung before). Each recorded dev
    score is what one worker scores with the saved model."""
    sweep, run_dir = two_worker_run
    run = RunDir(run_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w = Worker(run, sweep, aggregator="", rank=0, world=1, device=torch.device("cpu"), git_sha=None)
        scored = set()
        for record in stage_records(run_dir):
            if record["phase"] != "target" or "dev_score" not in record["metrics"]:
                continue
            spec, task, phase = record["spec"], get_task(record["spec"]["task"]), record["spec"]["training"]
            source = run.model_dir(record["key"])
            model = load_task_model(source, FAMILIES[task.family].auto_class, None)
            dev = load_split(task.name, "dev", "en", spec["data"])
            value, _ = score(w, model, task, dev, load_tokenizer(source), phase["max_length"], phase["batch_size"],
                             "en", spec["options"])
            assert value == record["metrics"]["dev_score"], record["label"]
            scored.add(task.name)
        assert "xnli" in scored and DEV_SIZE < PHASE["batch_size"]  # one batch, on rank 0 only
    finally:
        torch.set_num_threads(threads)


def test_a_two_worker_stage_accumulates_length_grouped_batches(two_worker_run):
    """Each training epoch records both workers' throughput, the padding and the accumulation."""
    _, run_dir = two_worker_run
    [target] = [s["metrics"] for s in stage_records(run_dir) if s["phase"] == "target" and s["spec"]["task"] == "xnli"]
    assert target["accumulation"] == 2 and target["epoch"] == 1
    assert len(target["tokens_per_s_per_worker"]) == 2 and all(t > 0 for t in target["tokens_per_s_per_worker"])
    assert 0 <= target["padding_ratio"] < 0.1


def test_the_attack_on_two_workers_equals_one_worker(two_worker_run, tmp_path):
    """The model-aware attack, sharded over 2 workers and gathered, gives what 1 worker gives.
    The attack applies to classification and tagging only, so it is a sweep of its own, on the
    XNLI model of the two-worker run (its stage folders copied: the same keys)."""
    from ray_xr.run import attack

    sweep_file = write_sweep(tmp_path / "attack.yaml", targets=["xnli"], languages={"xnli": ["cog"]},
                             noise={"kinds": ["attack"], "levels": [0, 0.3]}, **SETTINGS)
    run_dir = tmp_path / "runs" / "ddp"
    shutil.copytree(two_worker_run[1] / "stages", run_dir / "stages")
    result = ray_xr("run", str(sweep_file), "--storage", str(tmp_path / "runs"), "-v", timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # nothing trained again (-v prints each epoch)
    assert "1 trial(s)" in result.stdout and "target xnli" not in result.stdout
    attacked = [r for r in map(json.loads, (run_dir / "results.jsonl").open()) if r["level"]]
    assert len(attacked) == 1 and attacked[0]["n"] == TEST_SIZE
    record = json.loads((run_dir / "stages" / attacked[0]["stage"] / "stage.json").read_text())
    spec, task = record["spec"], get_task("xnli")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w = Worker(RunDir(run_dir), config.load(sweep_file), aggregator="", rank=0, world=1,
                   device=torch.device("cpu"), git_sha=None)
        model, tokenizer = target_model(w, record["parent"], task)
        one = attack.evaluate(w, model, task, load_split("xnli", "test", "cog", spec["data"]), tokenizer,
                              kind="attack", level=spec["level"], lang="cog", seed=spec["noise_seed"],
                              namespace="xnli", resources=NoiseResources(), protect=False,
                              max_length=spec["max_length"], batch_size=spec["batch_size"])
    finally:
        torch.set_num_threads(threads)
    assert one["value"] == attacked[0]["value"]
    assert one["extra"]["attack_success_rate"] == attacked[0]["attack_success_rate"]
