"""`ray-xr plan --cost`: tokens, GPU-hours and money per phase, before anything runs."""
from __future__ import annotations

import json

import pytest

from ray_xr import plan
from ray_xr.plan import config, cost
from tests.conftest import REPO, ray_xr


@pytest.mark.parametrize("sweep", ["nli_vs_ner", "phang2020"])
def test_cost_json_of_the_full_scale_sweeps(sweep):
    result = ray_xr("plan", f"sweeps/{sweep}.yaml", "--cost", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert set(found) == {"tokens", "gpu_hours", "gpu", "usd", "cheaper_layout"}
    assert set(found["gpu_hours"]) == {"intermediate", "target", "eval", "total"}
    assert found["gpu"] == "h100"
    hours = found["gpu_hours"]
    assert all(hours[p] > 0 for p in hours)
    assert hours["total"] == pytest.approx(hours["intermediate"] + hours["target"] + hours["eval"], abs=0.02)
    tokens = found["tokens"]
    assert tokens["total"] == sum(tokens[p] for p in ("intermediate", "target", "eval"))
    assert found["usd"] == pytest.approx(hours["total"] * cost.GPUS["h100"].usd_per_hour, rel=1e-3)


def test_the_study_sweep_runs_a_stage_per_gpu_at_the_papers_batch_within_15_h200_hours():
    found = json.loads(ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--cost", "--gpu", "h200", "--json").stdout)
    sweep = config.load(REPO / "sweeps" / "nli_vs_ner.yaml")
    assert sweep.intermediate_training.batch_size == sweep.target_training.batch_size == 32  # Phang et al.
    assert sweep.resources.workers == 1 and found["cheaper_layout"] is None
    assert found["gpu_hours"]["total"] <= 15


def test_data_parallel_stages_at_a_small_per_gpu_batch_are_told_the_cheaper_layout():
    """phang2020 runs 4 GPUs a stage at batch 32: 8 examples (at most 3,072 tokens) per GPU, a
    step of mostly fixed time; one GPU a stage computes the same batches for less."""
    text = ray_xr("plan", "sweeps/phang2020.yaml", "--cost").stdout
    found = json.loads(ray_xr("plan", "sweeps/phang2020.yaml", "--cost", "--json").stdout)
    cheaper = found["cheaper_layout"]
    assert cheaper["workers"] == 1 and cheaper["concurrency"] == 64 and cheaper["per_gpu_tokens"] == 3072
    assert cheaper["gpu_hours"]["eval"] == found["gpu_hours"]["eval"]  # evaluation does not change
    assert cheaper["gpu_hours"]["total"] < found["gpu_hours"]["total"] / 2
    assert (f"would take {cheaper['gpu_hours']['total']:,.1f} GPU-hours (${cheaper['usd']:,.0f}) instead of"
            f" {found['gpu_hours']['total']:,.1f}") in text
    sweep = config.load(REPO / "sweeps" / "phang2020.yaml")
    large = sweep.model_copy(update={"target_training": sweep.target_training.model_copy(update={"batch_size": 2048}),
                                     "intermediate_training": sweep.intermediate_training.model_copy(
                                         update={"batch_size": 2048})})
    assert cost.cheaper_layout(plan.build(large), "h100", cost.GPUS) is None  # 512 x 128 tokens a GPU: no hint


def test_the_model_is_seeded_with_the_measured_h200_figures():
    measured = json.loads((REPO / "bench" / "results" / "bench_gpu_h200.json").read_text())
    train = measured["train"]
    assert cost.MEASURED["device"] == measured["device"]
    for key, name in (("classification", "classification batch 32 bf16 fused AdamW"),
                      ("classification_large", "classification batch 128 bf16 fused AdamW"),
                      ("tagging", "tagging batch 32 bf16 fused AdamW"), ("qa", "qa batch 32 bf16 fused AdamW"),
                      ("ranking", "ranking batch 32 bf16 fused AdamW")):
        tokens, step = cost.MEASURED[key]
        assert step == train[name]["step_s"]
        assert tokens / step == pytest.approx(train[name]["tokens_per_s"], rel=0.01)  # the same batch shape
    assert cost.MEASURED["fp32_step"] == train["classification batch 32 fp32"]["step_s"]
    assert cost.MEASURED["encode_tokens_per_s"] == measured["encode"]["entities_per_s"] * 64
    # the step-time model reproduces the measured steps it was fitted to
    for family, key in (("classification", "classification"), ("tagging", "tagging"), ("qa", "qa")):
        tokens, step = cost.MEASURED[key]
        assert cost.FIXED_S[family] + cost._S_PER_TOKEN * tokens == pytest.approx(step)


def test_noise_levels_cost_evaluation_only():
    sweep = config.load(REPO / "sweeps" / "nli_vs_ner.yaml")
    few = cost.estimate(plan.build(sweep), "h100", cost.GPUS)
    more = sweep.model_copy(update={"noise": config.Noise(kinds=("char",), levels=(0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8))})
    many = cost.estimate(plan.build(more), "h100", cost.GPUS)
    for phase in ("intermediate", "target"):
        assert many["gpu_hours"][phase] == few["gpu_hours"][phase]
    # 7 levels instead of 4: twice the noisy evaluations (6 vs 3), the clean one shared
    assert many["tokens"]["eval"] == pytest.approx(few["tokens"]["eval"] * 7 / 4, rel=0.01)


def test_a_gpu_table_file_overrides_price_and_speed(tmp_path):
    table = tmp_path / "gpus.yaml"
    table.write_text("h100: {usd_per_hour: 3.45}\nmine: {usd_per_hour: 1.0, speed: 1.8}\n")
    base = json.loads(ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--cost", "--json").stdout)
    cheaper = json.loads(ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--cost", "--json", "--gpu-table", str(table)).stdout)
    assert cheaper["gpu_hours"] == base["gpu_hours"]
    assert cheaper["usd"] == pytest.approx(base["usd"] / 2, rel=1e-3)
    mine = json.loads(ray_xr("plan", "sweeps/nli_vs_ner.yaml", "--cost", "--json", "--gpu", "mine",
                             "--gpu-table", str(table)).stdout)
    assert mine["gpu_hours"]["total"] == pytest.approx(base["gpu_hours"]["total"] * 0.9 / 1.8, rel=1e-3)


@pytest.mark.parametrize("args, message", [
    (("--gpu", "v100"), "--gpu v100: not in the GPU table; known: a100, a10g, h100, h200, l4"),
    (("--gpu-table", "TABLE"), "--gpu-table TABLE: h100.price: Extra inputs are not permitted"),
])
def test_cost_mistakes_are_one_line(tmp_path, args, message):
    (tmp_path / "TABLE").write_text("h100: {price: 2}\n")
    result = ray_xr("plan", str(REPO / "sweeps" / "nli_vs_ner.yaml"), "--cost", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"ray-xr: error: {message}"


def test_the_readme_estimates_are_what_plan_cost_prints():
    """The table in docs/cluster.md "Cost before launch" is regenerated from `plan --cost`, stage counts too."""
    readme = (REPO / "docs/cluster.md").read_text()
    for name in ("nli_vs_ner", "phang2020"):
        p = plan.build(config.load(REPO / "sweeps" / f"{name}.yaml"))
        for i, gpu in enumerate(("h100", "a100", "l4")):
            found = cost.estimate(p, gpu, cost.GPUS)
            h = found["gpu_hours"]
            hours = " / ".join(f"{h[k]:,.1f}" for k in ("intermediate", "target", "eval", "total"))
            head = (f"`{name}` | {p.count('intermediate')} + {p.count('target')} + {p.count('eval'):,}"
                    f" | {found['tokens']['total'] / 1e9:.2f} B" if i == 0 else "| |")
            row = f"| {head} | {gpu} | {hours} | {found['usd']:,.0f} |"
            assert row in readme, row
