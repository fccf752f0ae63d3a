"""`ray-xr run SWEEP --smoke`: every stage of the real sweep (the same plan, stage for stage,
under keys of its own) on a few examples, in `<name>-smoke` beside the real run, which it
neither reads nor changes; a table of what each stage cost at the end. `--random-weights` runs
in tests/test_gpu_smoke.py (bench/gpu_smoke.sh --tiny)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ray_xr import plan
from ray_xr.plan import config, smoke
from tests.conftest import REPO, TINY, ray_xr, run_on, write_sweep

SHIPPED = sorted(p.stem for p in (REPO / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_smoke_sweep_has_every_stage_of_the_real_one_under_other_keys(name):
    sweep = config.load(REPO / "sweeps" / f"{name}.yaml")
    real, smoked = plan.build(sweep), plan.build(smoke.transform(sweep))
    assert smoked.sweep.name == f"{sweep.name}-smoke"
    assert smoked.summary()["stages"] == real.summary()["stages"]
    assert [g.name for g in smoked.groups] == [g.name for g in real.groups]  # the same trials
    assert not set(smoked.stages) & set(real.stages)
    s = smoked.sweep
    assert s.intermediate_training.epochs == s.target_training.epochs == s.embedded.train.epochs == 1
    assert s.data.dev_size == s.data.test_size == smoke.EXAMPLES
    biggest = max(p.batch_size * p.accumulation for p in (s.intermediate_training, s.target_training))
    assert s.data.train_size == smoke.STEPS * biggest
    assert s.resources == sweep.resources  # the same resources: the same cluster, the same code path


def test_random_weights_are_only_for_a_smoke_run_of_a_known_architecture(tmp_path):
    tiny = write_sweep(tmp_path / "tiny.yaml")
    for args, message in (
            (("--random-weights",), "--random-weights: only with --smoke"),
            (("--smoke", "--random-weights"), "--random-weights: model embedded-tiny is built here anyway")):
        result = ray_xr("run", str(tiny), "--storage", str(tmp_path / "runs"), *args)
        assert result.returncode == 2 and result.stderr.startswith(f"ray-xr: error: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    sweep = config.parse({**TINY, "model": "xlm-roberta-large"})
    large = plan.build(smoke.transform(sweep, random_weights=True))
    [pretrain] = [s for s in large.stages.values() if s.phase == "pretrain"]
    assert pretrain.trains and pretrain.random_weights["num_hidden_layers"] == 24
    hub = plan.build(smoke.transform(sweep))  # without: the hub's weights, nothing to train
    assert not [s for s in hub.stages.values() if s.phase == "pretrain"][0].trains
    with pytest.raises(config.SweepError, match="no known architecture for model 'my/model'"):
        smoke.architecture("my/model")


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_smoke_run_leaves_the_real_run_alone_and_ends_with_its_table(chains_reference, local_cluster):
    """The CHAINS sweep's smoke, twice, beside its finished reference run: every stage runs
    under its own key (none is reused from the real run), the table has a line per training
    stage and per model's evaluations, and the real run folder is byte for byte what it was."""
    storage = chains_reference.parent
    sweep = storage / "chains.yaml"
    before = snapshot(chains_reference)
    first = run_on(local_cluster, sweep, storage, "--smoke")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    folder = storage / f"{TINY['name']}-smoke"
    records = {p.parent.name: json.loads(p.read_text()) for p in folder.glob("stages/*/stage.json")}
    real = {p.parent.name for p in chains_reference.glob("stages/*/stage.json")}
    assert len(records) == len(real) and not set(records) & real  # every stage, none of the real run's keys
    assert all(r["status"] == "done" for r in records.values())
    rows = json.loads((folder / "smoke.json").read_text())["rows"]
    training = [r for r in records.values() if r["phase"] != "eval"]
    models = {r["parent"] for r in records.values() if r["phase"] == "eval"}
    assert len(rows) == len(training) + len(models)  # each model, then its evaluations
    for row in rows:
        assert row["device"] == "cpu" and row["precision"] == "fp32" and row["workers"] == 1
        assert row["seconds"] > 0 and row["peak_memory_gib"] > 0 and row["tokens_per_s"] > 0
        assert row["mfu"] is None  # no peak FLOP/s for a CPU
    table = first.stdout[first.stdout.index("ray-xr: smoke run of tiny-smoke"):]
    assert f"{len(records)} of {len(records)} stages done" in table and "FAILED" not in table
    assert all(r["stage"] in table for r in rows)
    steps = [r["metrics"] for r in training if r["phase"] == "target"]
    assert all(m["epoch"] == 1 for m in steps)
    second = run_on(local_cluster, sweep, storage, "--smoke")  # everything there: its own stages only
    assert second.returncode == 0 and "every stage has finished already" in second.stdout
    assert snapshot(chains_reference) == before


def test_the_table_estimates_mfu_on_a_gpu_and_names_each_failed_stage():
    """Records as the workers write them (the compute block of run/meter.py), one target failed."""
    p = plan.build(smoke.transform(config.parse({**TINY, "intermediate": ["none"], "targets": ["xnli"],
                                                 "languages": {"xnli": ["en"]}})))
    gpu = {"device": "NVIDIA H100 80GB HBM3", "precision": "bf16", "workers": 1, "node_ip": "10.0.0.7",
           "memory": "cuda_max_allocated", "peak_memory": 11 * 2**30, "forward_tokens": 0, "forward_s": 0.0}
    [pretrain] = [s for s in p.stages.values() if s.phase == "pretrain"]
    records = {pretrain.key: {"key": pretrain.key, "phase": "pretrain", "status": "done", "node": "ab" * 28,
                              "started": 10.0, "finished": 12.5,
                              "metrics": {"tokens_per_s": 40_000, "non_embedding_params": 303_000_000,
                                          "compute": gpu}}}
    group = next(g.name for g in p.groups if any(p.stages[k].phase == "target" for k in g.stages))
    text, found = smoke.table(p, records, [f"{group}: OutOfMemoryError: CUDA out of memory"])
    [row] = found["rows"]
    assert row["mfu"] == round(6 * 303e6 * 40_000 / 989e12, 4) and row["peak_memory_gib"] == 11.0
    assert row["node"] == "10.0.0.7/ababab" and row["seconds"] == 2.5
    target = next(s for s in p.stages.values() if s.phase == "target")
    assert f"FAILED {target.label}: OutOfMemoryError: CUDA out of memory" in text.splitlines()
    evals = sum(s.phase == "eval" for s in p.stages.values())
    assert f"FAILED {evals} evaluations of {target.label}: OutOfMemoryError: CUDA out of memory" in text
    assert sum(line.startswith("FAILED") for line in text.splitlines()) == 2  # the stage, its evaluations


def test_a_sweep_file_cannot_declare_itself_a_smoke_run(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", smoke={"steps": 3, "examples": 8})
    with pytest.raises(config.SweepError, match="smoke: not a sweep key; `ray-xr run .* --smoke`"):
        config.load(path)
