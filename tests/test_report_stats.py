"""The report's statistics from outcome files: hand-computed cells, drops, AUC, gaps and
comparisons, marks only where significant after Holm, and every output file."""
from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ray_xr.metrics import METRICS, from_outcomes
from ray_xr.report import analysis, compare, stats, summary
from ray_xr.report.render import write_report
from tests import reference_stats as ref

# (model, level, language) -> 0/1 outcomes of four test examples (accuracy)
HAND = {
    ("none", 0.0, "de"): [1, 1, 0, 0], ("none", 0.5, "de"): [1, 0, 0, 0],
    ("nli", 0.0, "de"): [1, 1, 1, 0], ("nli", 0.5, "de"): [1, 1, 0, 0],
    ("none", 0.0, "fr"): [1, 0, 0, 0], ("none", 0.5, "fr"): [0, 0, 0, 0],
    ("nli", 0.0, "fr"): [1, 1, 0, 0], ("nli", 0.5, "fr"): [1, 0, 0, 0],
    **{(m, lv, "en"): [1, 1, 1, 1] for m in ("none", "nli") for lv in (0.0, 0.5)},
}


def write_run(run_dir, outcomes: dict, target="xnli", metric="accuracy", seed=1, parallel=False) -> list[dict]:
    """results.jsonl and one outcomes.parquet per evaluation; outcomes[(model, level, lang)] is
    a list of scores or a dict of columns. `parallel`: the languages' test sets are translations
    of the same items (their ids shared)."""
    records = []
    for (model, level, lang), columns in outcomes.items():
        columns = columns if isinstance(columns, dict) else {"score": [float(x) for x in columns]}
        n = len(columns["score"])
        key = f"eval-{target}-{model}-{seed}-{level}-{lang}"
        path = run_dir / "stages" / key / "outcomes.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = [f"item{i}" if parallel else f"{lang}{i}" for i in range(n)]
        pq.write_table(pa.table({"example_id": ids, **columns}), path)
        records.append({"intermediate": model, "target": target, "seed": seed, "noise": "char", "level": level,
                        "language": lang, "metric": metric, "value": from_outcomes(METRICS[metric], columns), "n": n,
                        "stage": key, **({"parallel_test": True} if parallel else {})})
    with open(run_dir / "results.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return records


def test_cells_drops_auc_and_gap_by_hand(tmp_path):
    records = write_run(tmp_path, HAND)
    found = summary.gather(tmp_path, records, "en", n_boot=200, n_perm=200)
    m = found.measures
    # none: de 50, fr 25 -> 37.5 clean; de 25, fr 0 -> 12.5 noisy. nli: 62.5 and 37.5.
    assert m["xnli", "none", "char", 0.0]["value"] == 37.5 and m["xnli", "none", "char", 0.5]["value"] == 12.5
    assert m["xnli", "nli", "char", 0.0]["value"] == 62.5 and m["xnli", "nli", "char", 0.5]["value"] == 37.5
    assert m["xnli", "none", "char", 0.5]["drop_value"] == 25.0
    assert m["xnli", "none", "char", 0.5]["relative_drop"] == pytest.approx(100 * 25 / 37.5)
    assert m["xnli", "nli", "char", 0.5]["relative_drop"] == pytest.approx(40.0)
    # AUC: none .5 * (37.5 + 12.5) / 2 / (37.5 * .5) = 2/3; nli .5 * (62.5 + 37.5) / 2 / 31.25 = .8
    assert m["xnli", "none", "char", 0.5]["auc"] == pytest.approx(2 / 3)
    assert m["xnli", "nli", "char", 0.0]["auc"] == pytest.approx(0.8)
    # English scores 100 everywhere: the gap is 100 minus the cell
    assert m["xnli", "none", "char", 0.0]["gap_value"] == 62.5
    for row in m.values():
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        assert row["n_examples"] == 8


def test_comparisons_by_hand(tmp_path):
    records = write_run(tmp_path, HAND)
    found = summary.gather(tmp_path, records, "en", n_boot=200, n_perm=4000)
    assert [(r["a"], r["b"], r["level"]) for r in found.comparisons] == [("nli", "none", 0.0), ("nli", "none", 0.5)]
    clean, noisy = found.comparisons
    assert clean["diff"] == 25.0 and noisy["diff"] == 25.0
    # clean: nli and none differ on one example in de and one in fr; swapping each with
    # probability 1/2 gives a mean difference of 25, 0, 0 or -25: p = 1/2
    assert clean["p"] == pytest.approx(0.5, abs=0.03)
    # Holm over two p-values: the smaller doubled, the larger raised to it (both about 1 here)
    smallest = min(clean["p"], noisy["p"])
    assert clean["p_holm"] == noisy["p_holm"] == pytest.approx(min(1.0, 2 * smallest))
    assert clean["p_holm"] > 0.9 and not clean["significant"]
    assert (clean["n_examples"], clean["seeds"]) == (8, 1)
    assert clean["test"] == compare.MODELS and clean["df"] is None  # one seed: these trained models
    absolute, relative = sorted(found.headline, key=lambda e: e["measure"] != "mean_score")
    # mean score over levels 0-.5: none (37.5 + 12.5) / 2 = 25, nli (62.5 + 37.5) / 2 = 50
    assert (absolute["best"], absolute["runner_up"], absolute["diff"]) == ("nli", "none", 25.0)
    assert (relative["best"], relative["runner_up"]) == ("nli", "none")
    assert relative["diff"] == pytest.approx(0.8 - 2 / 3) and not relative["significant"]
    assert "about these trained models" in relative["text"]


def test_panel_estimates_are_the_recorded_values(tmp_path):
    rng = np.random.default_rng(0)
    outcomes = {}
    for model in ("none", "ner"):
        for level in (0.0, 0.2):
            for lang in ("en", "de"):
                gold = rng.integers(0, 4, 50)
                tp = rng.binomial(gold, 0.7)
                outcomes[model, level, lang] = {"score": [0.0] * 50, "tp": tp.tolist(),
                                                "fp": rng.binomial(1, 0.3, 50).tolist(), "fn": (gold - tp).tolist()}
    records = write_run(tmp_path, outcomes, target="panx", metric="seqeval_f1")
    panel = analysis.build_panel(tmp_path, records, "en", n_boot=50)
    for r in records:
        mi, pi = panel.index(r["intermediate"], (r["noise"], r["level"]))
        assert panel.estimate[mi, 0, pi, panel.languages.index(r["language"])] == pytest.approx(r["value"])


def _planted(n=400):
    """nli right on every example, none on half: a 50-point gain no test can miss."""
    out = {}
    for lang in ("de", "fr"):
        for level in (0.0, 0.3):
            out["nli", level, lang] = [1] * n
            out["none", level, lang] = [1, 0] * (n // 2)
    return out


def test_only_significant_differences_are_marked(tmp_path):
    records = write_run(tmp_path, _planted())
    # a third task no different from the baseline
    records += write_run(tmp_path, {("ner", lv, lang): [1, 0] * 200 for lv in (0.0, 0.3) for lang in ("de", "fr")})
    path = write_report(tmp_path)
    markdown = path.read_text(encoding="utf-8")
    scores = markdown.split("## Scores")[1].split("## Drop")[0]
    nli_line = next(line for line in scores.splitlines() if line.startswith("| nli "))
    ner_line = next(line for line in scores.splitlines() if line.startswith("| ner "))
    assert nli_line.count("▲") == 2 and "▲" not in ner_line and "**" not in markdown
    rows = list(csv.DictReader(open(tmp_path / "report" / "comparisons.csv", encoding="utf-8")))
    assert list(rows[0]) == list(compare.COMPARISON_COLUMNS)
    by_pair = {(r["a"], r["b"], r["level"]): r for r in rows}
    assert by_pair["nli", "none", "0.0"]["significant"] == "True"
    assert by_pair["ner", "none", "0.0"]["significant"] == "False"
    assert float(by_pair["nli", "ner", "0.3"]["diff"]) == 50.0
    assert float(by_pair["nli", "none", "0.0"]["p_holm"]) < 0.05


def test_summary_json_and_other_files(tmp_path):
    write_run(tmp_path, _planted())
    write_report(tmp_path)
    out = tmp_path / "report"
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["comparisons"] and all(list(c) == list(compare.COMPARISON_KEYS) for c in data["comparisons"])
    assert {c["test"] for c in data["comparisons"]} == {compare.MODELS}
    assert [e["measure"] for e in data["headline"]] == ["mean_score", "auc"]
    assert all(e["target"] == "xnli" and "significant" in e for e in data["headline"])
    tex = (out / "robustness.tex").read_text(encoding="utf-8")
    assert r"\toprule" in tex and r"\pm" not in tex and r"^{\uparrow}" in tex  # one seed: no std
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.replace("https://", "")
    # one seed per task: every table says its marks are about these trained models
    markdown = (out / "robustness.md").read_text(encoding="utf-8")
    for text in (markdown.split("## Scores")[0], markdown.split("## Comparisons")[1], page, tex):
        assert "about these trained models" in " ".join(text.split()), text[:300]
    per_language = list(csv.DictReader(open(out / "per_language.csv", encoding="utf-8")))
    assert all(float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) for r in per_language)
    robustness = list(csv.DictReader(open(out / "robustness.csv", encoding="utf-8")))
    gain = next(r for r in robustness if r["intermediate"] == "nli" and r["level"] == "0.3")
    assert float(gain["gain"]) == 50.0 and float(gain["gain_p_holm"]) < 0.05


def test_live_report_leaves_the_plots_out(tmp_path):
    write_run(tmp_path, _planted())
    write_report(tmp_path, final=False)
    assert not (tmp_path / "report" / "plots").exists()
    assert "Plots come with the final report" in (tmp_path / "report" / "report.html").read_text(encoding="utf-8")


def _runs(rng, accuracy: dict, n=300, langs=("de", "fr"), levels=(0.0, 0.3)) -> dict:
    """Outcomes drawn at accuracy[model] (a number, or a function of the level)."""
    out = {}
    for model, p in accuracy.items():
        for level in levels:
            for lang in langs:
                rate = p(level) if callable(p) else p
                out[model, level, lang] = (rng.random(n) < rate).astype(float).tolist()
    return out


def test_several_seeds_test_training_runs(tmp_path):
    rng = np.random.default_rng(3)
    records = []
    for seed, shift in zip((1, 2, 3), (-0.02, 0.0, 0.02)):  # runs of nli differ by 2 points
        records += write_run(tmp_path, _runs(rng, {"none": 0.6, "nli": 0.65 + shift}), seed=seed)
    found = summary.gather(tmp_path, records, "en", n_boot=400, n_perm=200)
    row = found.comparison("nli", "none", "xnli", "char", 0.3)
    assert row["test"] == compare.RECIPE and row["seeds"] == 3 and 2 < row["df"] < 1000
    cells = {(r["intermediate"], r["seed"]): [] for r in records}
    for r in records:
        if r["level"] == 0.3:
            cells[r["intermediate"], r["seed"]].append(r["value"])
    nli = [np.mean(cells["nli", s]) for s in (1, 2, 3)]
    none = [np.mean(cells["none", s]) for s in (1, 2, 3)]
    assert row["diff"] == pytest.approx(np.mean(nli) - np.mean(none))
    # SE^2 = s^2 / n per arm + V_ex: at least the seeds' part, and the interval is diff +- t SE
    assert row["se"] ** 2 > np.var(nli, ddof=1) / 3 + np.var(none, ddof=1) / 3
    half = stats.t_quantile(0.975, row["df"]) * row["se"]
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(row["diff"] - half), pytest.approx(row["diff"] + half))
    assert row["p"] == pytest.approx(stats.two_sided_p(row["diff"] / row["se"], row["df"]))


def test_example_variance_is_the_paired_bootstraps(tmp_path):
    """V_ex of one run per arm in one language: the plain paired bootstrap's variance."""
    rng = np.random.default_rng(4)
    outcomes = _runs(rng, {"none": 0.6, "nli": 0.7}, n=500, langs=("de",), levels=(0.0,))
    records = write_run(tmp_path, outcomes)
    panel = analysis.build_panel(tmp_path, records, "en", n_boot=3000)
    boot = analysis.seed_cells(panel.boot, panel)[:, :, 0, 0]  # [rep, model]
    v_ex = np.var(boot[:, 1] - boot[:, 0], ddof=1)
    expected = ref.paired_bootstrap_variance(outcomes["nli", 0.0, "de"], outcomes["none", 0.0, "de"],
                                             rng=np.random.default_rng(0), n_boot=3000)
    assert v_ex == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize("parallel", [True, False])
def test_translated_items_are_resampled_together(tmp_path, parallel):
    rng = np.random.default_rng(5)
    same = (rng.random(200) < 0.6).astype(float).tolist()
    records = write_run(tmp_path, {("none", 0.0, lang): same for lang in ("de", "fr")}, parallel=parallel)
    panel = analysis.build_panel(tmp_path, records, "en", n_boot=50)
    de, fr = panel.boot[:, 0, 0, 0, 0], panel.boot[:, 0, 0, 0, 1]
    assert panel.parallel is parallel
    assert bool((de == fr).all()) is parallel  # one draw of the items for both translations, or one each


def test_headline_says_when_the_task_keeping_most_is_below_the_baseline(tmp_path):
    """ner starts 30 points below none and loses little; none and nli lose more in share but
    stay far above it: ner keeps the largest share, and the headline says it is below none."""
    rng = np.random.default_rng(6)
    accuracy = {"none": lambda lv: 0.8 - 0.8 * lv, "nli": lambda lv: 0.8 - 0.8 * lv, "ner": lambda lv: 0.5 - 0.1 * lv}
    records = write_run(tmp_path, _runs(rng, accuracy, n=400))
    found = summary.gather(tmp_path, records, "en", n_boot=200, n_perm=500)
    relative = next(e for e in found.headline if e["measure"] == "auc")
    absolute = next(e for e in found.headline if e["measure"] == "mean_score")
    assert relative["best"] == "ner" and relative["below_baseline"] == {"everywhere": True, "significantly": [0.0, 0.3]}
    assert "ner scores below none at every level (significantly at every level)" in relative["text"]
    assert absolute["best"] in ("none", "nli") and not absolute["below_baseline"]["everywhere"]
