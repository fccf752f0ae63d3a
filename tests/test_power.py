"""`ray-xr plan --power`: seeds per task for a stated difference, from defaults or a pilot run
folder, priced with --cost; and the one-seed warning of `plan` (test_pipeline checks `run`'s)."""
from __future__ import annotations

import json

import numpy as np

from ray_xr import plan
from ray_xr.plan import config
from ray_xr.report import power
from tests.conftest import REPO, TINY, ray_xr, write_sweep
from tests.simstudy import Study, write


def nli_vs_ner() -> plan.Plan:
    """The shipped sweep's plan, whose every stage a rerun with more seeds reuses."""
    return plan.build(config.load(REPO / "sweeps" / "nli_vs_ner.yaml"))


def test_seeds_per_target_and_task_and_their_gpu_hours_as_json():
    result = ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--power", "--mdd", "1", "--cost", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    targets, arms = ["xnli", "panx", "udpos"], ["none", "mnli", "conll2003"]
    assert list(found["seeds"]) == targets and all(list(found["seeds"][t]) == arms for t in targets)
    assert set(found["gpu_hours"]) == {*targets, "total"} and found["comparisons"] == 36
    # a seed count, or None where the test set alone is too noisy for 1 point (its floor says by how much)
    for t in targets:
        n = found["seeds"][t]["mnli"]
        assert (n is None) == (found["floor"][t] > 1) == (found["gpu_hours"][t] is None)
    assert found["every_stage_reused"] and found["reused_stages"] == len(nli_vs_ner().stages)
    easier = json.loads(ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--power", "--mdd", "3", "--json").stdout)
    assert all(easier["seeds"][t]["none"] <= found["seeds"][t]["none"] for t in targets if found["seeds"][t]["none"])
    assert "gpu_hours" not in easier


def test_the_table_in_words():
    result = ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--power", "--mdd", "2", "--cost")
    assert result.returncode == 0, result.stderr
    assert "seeds per task to detect a 2-point difference" in result.stdout
    assert f"reuses every one of the {len(nli_vs_ner().stages):,} stages of seeds 1, 2, 3" in result.stdout


def test_a_pilot_run_gives_the_variances(tmp_path):
    """A pilot with 3 seeds per task (seed s.d. 1.5 points per run and language, so about
    1.5 / sqrt(5) per table cell) replaces the defaults."""
    pilot = tmp_path / "pilot"
    write(pilot, Study(examples=500), np.random.default_rng(0))
    sweep = config.parse({**TINY, "intermediate": ["nli", "ner"], "targets": ["xnli"], "seeds": [1, 2, 3],
                          "languages": {"xnli": ["en", "cog", "ord", "cyr", "unr"]}})
    found = power.analyse(plan.build(sweep), 2.0, str(pilot))
    variance = found["variance"]["xnli"]
    assert variance["source"].startswith(f"pilot {pilot}: 3 seed(s)")
    assert all(0.3 < sd < 2.0 for sd in variance["seed_sd"].values()), variance
    # the pilot's 5 x 500 examples scaled to the sweep's 4 x 24: more example variance
    assert variance["example_sd"]["nli - ner"] > 2
    assert found["seeds"]["xnli"]["nli"] is None or found["seeds"]["xnli"]["nli"] >= 2
    more = config.parse({**sweep.model_dump(), "targets": ["xnli", "panx"], "languages": {"xnli": ["en", "cog"]}})
    panx = power.analyse(plan.build(more), 2.0, str(pilot))["variance"]["panx"]["source"]
    assert panx.startswith(f"pilot {pilot} has no finished evaluation of panx; defaults: "), panx


def test_power_mistakes_are_one_line(tmp_path):
    for args, message in ((["--cost"], "give --mdd POINTS"), (["--mdd", "-1"], "greater than 0"),
                          (["--pilot", str(tmp_path)], "no results.jsonl")):
        result = ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--power", *args)
        assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_one_seed_comparisons_are_warned_about(tmp_path):
    one = ray_xr("plan", str(write_sweep(tmp_path / "one.yaml")), "--json")
    assert one.returncode == 0 and "trains each intermediate task with one seed" in one.stderr
    assert "seeds per task" in one.stderr and json.loads(one.stdout)["stages"]  # stdout stays JSON
    several = ray_xr("plan", str(write_sweep(tmp_path / "two.yaml", seeds=[1, 2])))
    alone = ray_xr("plan", str(write_sweep(tmp_path / "none.yaml", intermediate=["none"])))
    assert "warning" not in several.stderr and "warning" not in alone.stderr
