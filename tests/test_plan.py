"""The stage graph: shared stages collapse, noise never retrains, keys follow content."""
from __future__ import annotations

import json

from ray_xr import config, plan
from tests.conftest import REPO, TINY, ray_xr


def build(**overrides) -> plan.Plan:
    return plan.build(config.parse({**TINY, **overrides}))


def keys(p: plan.Plan, phase: str) -> set[str]:
    return {k for k, s in p.stages.items() if s.phase == phase}


def test_local_sweep_counts_from_the_cli():
    result = ray_xr("plan", "sweeps/local.yaml", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stages"]["pretrain"] == 1
    assert summary["stages"]["intermediate"] == 2
    assert summary["stages"]["target"] == 9
    assert summary["cells"] == 3 * 3 * 4  # intermediate x target x noise level, one seed


def test_more_noise_levels_add_evaluations_not_training():
    sweep = config.load(REPO / "sweeps" / "local.yaml")
    few = plan.build(sweep)
    many = plan.build(sweep.model_copy(update={"noise": config.Noise(
        kinds=("char",), levels=(0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8))}))
    for phase in ("pretrain", "intermediate", "target"):
        assert keys(few, phase) == keys(many, phase)
    assert many.count("eval") == few.count("eval") * 2  # 8 levels vs 4, per language


def test_clean_evaluation_is_shared_by_noise_kinds():
    p = build(noise={"kinds": ["char", "keyboard"], "levels": [0, 0.5]})
    clean = [s for s in p.stages.values() if s.phase == "eval" and s.spec["level"] == 0]
    assert clean and all({c["noise"] for c in s.cells} == {"char", "keyboard"} for s in clean)
    # 2 intermediates x (2 + 2 languages) x (1 clean + 2 noisy)
    assert p.count("eval") == 2 * 4 * 3


def test_same_config_same_keys():
    assert build().stages.keys() == build().stages.keys()


def test_any_change_gives_new_keys_downstream_only():
    base = build()
    lr = build(target_training={**TINY["target_training"], "lr": 1e-3})
    assert keys(base, "pretrain") == keys(lr, "pretrain")
    assert keys(base, "intermediate") == keys(lr, "intermediate")
    assert keys(base, "target").isdisjoint(keys(lr, "target"))
    assert keys(base, "eval").isdisjoint(keys(lr, "eval"))
    emb = build(embedded={**TINY["embedded"], "hidden_size": 64})
    assert keys(base, "pretrain").isdisjoint(keys(emb, "pretrain"))
    assert keys(base, "intermediate").isdisjoint(keys(emb, "intermediate"))
    seed = build(seeds=[2])
    assert keys(base, "pretrain") == keys(seed, "pretrain")  # phase (i) does not depend on the grid seed
    assert keys(base, "target").isdisjoint(keys(seed, "target"))


def test_chains_and_stage_grouping():
    chain = build()
    assert [g.name for g in chain.groups] == ["pretrain", "none-s1", "nli-s1"]
    per_stage = build(resources={"group_by": "stage"})
    assert len(per_stage.groups) == 1 + 1 + 2 * 2  # pretrain, nli intermediate, 4 target models
    assert max(g.wave for g in per_stage.groups) == 2


def test_full_scale_sweep_plans():
    result = ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stages"]["pretrain"] == 1
    assert summary["stages"]["intermediate"] == 2 * 3  # mnli, conll2003 x 3 seeds
