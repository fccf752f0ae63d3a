"""The stage graph: shared stages collapse, noise never retrains, keys follow content."""
from __future__ import annotations

import json

import pytest

from ray_xr import plan, stages
from ray_xr.plan import config
from tests.conftest import REPO, TINY, ray_xr


def build(**overrides) -> plan.Plan:
    return plan.build(config.parse({**TINY, **overrides}))


# the stage keys of TINY (tests/conftest.py); re-pinned when training specs gained effective_batch_size,
# length_grouped and compile (issue 11). No version bump: at their defaults a stage computes as
# before, though its new key seeds another batch order (derived from the key), so every training
# stage is new anyway
PINNED = "30ef22725200970d"


def keys(p: plan.Plan, phase: str) -> set[str]:
    return {k for k, s in p.stages.items() if s.phase == phase}


def test_local_sweep_counts_from_the_cli():
    result = ray_xr("plan", "sweeps/local.yaml", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stages"]["pretrain"] == 1
    assert summary["stages"]["intermediate"] == 2 * 3  # nli and ner, three seeds
    assert summary["stages"]["target"] == 9 * 3
    assert summary["cells"] == 3 * 3 * 4 * 3  # intermediate x target x noise level x seed


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


# --- noise options in the keys -----------------------------------------------------------------

def key_digest(p: plan.Plan) -> str:
    import hashlib

    return hashlib.sha256(" ".join(sorted(p.stages)).encode()).hexdigest()[:16]


def test_keys_are_pinned():
    # Keys change only on purpose: a change of what a stage computes bumps plan.VERSIONS (docs/
    # architecture.md "Stage keys"), and then this digest is updated with it.
    assert key_digest(build()) == PINNED, "stage keys changed: bump plan.VERSIONS if numbers change, then re-pin"


def test_intermediate_variants_are_stages_of_their_own():
    """A variant's name enters its key (and, through the key and the spec, its training
    randomness: run/worker.py init_seed): a copy of nli is another training run of it; a plain
    name keys as before variants existed (the pinned digest above)."""
    variants = build(intermediate=["none", "nli", {"name": "nli_copy", "task": "nli"},
                                   {"name": "nli_half", "task": "nli", "train_size": 0.5,
                                    "intermediate_training": {"lr": 1e-3}}])
    base = build()
    inter = {s.spec.get("variant", s.spec["task"]): s for s in variants.stages.values() if s.phase == "intermediate"}
    assert keys(base, "intermediate") == {inter["nli"].key}  # nli as before
    assert inter["nli_copy"].spec == {**inter["nli"].spec, "variant": "nli_copy"}
    assert inter["nli_half"].spec["data"]["sizes"]["train"] == TINY["data"]["train_size"] // 2
    assert inter["nli_half"].spec["training"]["lr"] == 1e-3
    assert len({s.key for s in inter.values()}) == 3 and variants.count("target") == 4 * base.count("target") // 2
    cells = {c["intermediate"] for s in variants.stages.values() for c in s.cells}
    assert cells == {"none", "nli", "nli_copy", "nli_half"}


def test_a_fraction_of_data_read_whole_is_drawn_at_load_time():
    sweep = config.parse({**TINY, "data": {"source": "hub", "train_size": 0},
                          "intermediate": [{"name": "mnli_half", "task": "mnli", "train_size": 0.5}],
                          "targets": ["xnli"], "languages": {"xnli": ["en", "de"]}})
    [stage] = [s for s in plan.build(sweep).stages.values() if s.phase == "intermediate"]
    assert stage.spec["data"]["fractions"] == {"train": 0.5} and stage.spec["data"]["sizes"]["train"] == 0
    from ray_xr.tasks.load import load_split

    data = {"source": "synthetic", "sizes": {"train": 40}, "seed": 0, "local": {}}
    whole = load_split("nli", "train", "en", data)
    half = load_split("nli", "train", "en", {**data, "fractions": {"train": 0.5}})
    assert len(half) == 20 and {e.id for e in half} < {e.id for e in whole}
    assert [e.id for e in half] != [e.id for e in whole[:20]]  # drawn, not the first half


def test_more_seeds_reuse_every_finished_stage():
    few, more = build(seeds=[1, 2, 3]), build(seeds=[1, 2, 3, 4, 5])
    assert set(few.stages) < set(more.stages)


def test_each_phase_version_re_keys_its_phase_and_downstream_only(monkeypatch):
    base = build()
    monkeypatch.setitem(plan.VERSIONS, "target", plan.VERSIONS["target"] + 1)
    bumped = build()
    for phase in ("pretrain", "intermediate"):
        assert keys(base, phase) == keys(bumped, phase), phase
    for phase in ("target", "eval"):
        assert keys(base, phase).isdisjoint(keys(bumped, phase)), phase


def test_workers_and_threads_re_key_what_they_change():
    base = build()
    two = build(resources={**TINY["resources"], "workers": 2})
    assert keys(base, "pretrain") == keys(two, "pretrain")  # phase (i) of the embedded model: key of its own
    assert keys(base, "target").isdisjoint(keys(two, "target"))
    threads = build(resources={**TINY["resources"], "cpus_per_worker": 2})
    for phase in ("pretrain", "intermediate", "target", "eval"):
        assert keys(base, phase).isdisjoint(keys(threads, phase)), phase


def test_local_data_enters_the_keys_by_content_not_mount_point(tmp_path):
    import shutil

    from tests.conftest import real_data

    for name in ("a", "b"):
        shutil.copytree(real_data() / "udpos", tmp_path / name / "udpos")
    local = dict(intermediate=["none"], targets=["udpos"], languages={"udpos": ["en", "de"]},
                 data={"source": "local", "local": {"udpos": str(tmp_path / "a" / "udpos")}})
    moved = {**local, "data": {"source": "local", "local": {"udpos": str(tmp_path / "b" / "udpos")}}}
    assert build(**local).stages.keys() == build(**moved).stages.keys()
    (tmp_path / "b" / "udpos" / "de" / "test.conllu").write_text("# edited\n", encoding="utf-8")
    stages.data_fingerprint.cache_clear()
    assert build(**local).stages.keys() != build(**moved).stages.keys()


def test_bf16_precision_re_keys_every_stage():
    base, bf16 = build(), build(resources={**TINY["resources"], "precision": "bf16"})
    for phase in ("pretrain", "intermediate", "target", "eval"):
        assert keys(base, phase).isdisjoint(keys(bf16, phase)), phase
    assert all(s.spec["precision"] == "bf16" for s in bf16.stages.values() if s.phase != "pretrain" or s.trains)


def test_train_noise_changes_its_phase_and_downstream_only():
    base = build()
    target = build(train_noise={"target": {"kind": "char", "level": 0.1}})
    assert keys(base, "intermediate") == keys(target, "intermediate")
    assert keys(base, "target").isdisjoint(keys(target, "target"))
    assert keys(base, "eval").isdisjoint(keys(target, "eval"))
    spec = next(s.spec for s in target.stages.values() if s.phase == "target")
    assert spec["train_noise"] == {"kind": "char", "level": 0.1, "noise_seed": 0, "protect": False,
                                   "resource_sha256": None}
    inter = build(train_noise={"intermediate": {"kind": "word", "level": 0.2}})
    assert keys(base, "intermediate").isdisjoint(keys(inter, "intermediate"))
    none_targets = {k for k, s in inter.stages.items() if s.phase == "target" and s.parent in keys(base, "pretrain")}
    assert none_targets <= keys(base, "target")  # the baseline chain has no intermediate phase
    assert keys(base, "pretrain") == keys(inter, "pretrain")


def test_resource_content_not_path_enters_the_eval_keys(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("the\tteh\n")
    b.write_text("the\tteh\n")
    langs = ("en", "cog", "cyr")
    noise = {"kinds": ["realworld", "char"], "levels": [0, 0.5]}
    first = build(noise={**noise, "typo_files": {lang: str(a) for lang in langs}})
    moved = build(noise={**noise, "typo_files": {lang: str(b) for lang in langs}})
    assert first.stages.keys() == moved.stages.keys()
    b.write_text("the\ttje\n")
    edited = build(noise={**noise, "typo_files": {lang: str(b) for lang in langs}})
    changed = keys(first, "eval") - keys(edited, "eval")
    assert changed and all(first.stages[k].spec["noise"] == "realworld" for k in changed)
    assert keys(first, "target") == keys(edited, "target")


def test_protection_changes_only_noisy_evaluations():
    base, protected = build(), build(noise={**TINY["noise"], "protect_entities": True})
    assert keys(base, "target") == keys(protected, "target")
    clean = {k for k in keys(base, "eval") if base.stages[k].spec["level"] == 0}
    assert clean <= keys(protected, "eval")
    assert (keys(base, "eval") - clean).isdisjoint(keys(protected, "eval"))


def test_every_kind_sweep_plans_from_any_directory(tmp_path):
    result = ray_xr("plan", str(REPO / "sweeps" / "noise_kinds.yaml"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 3 chains x 2 targets x 5 languages x (clean + 7 kinds x 2 noisy levels)
    assert json.loads(result.stdout)["stages"]["eval"] == 3 * 2 * 5 * (1 + 7 * 2)
