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
from ray_xr.report import analysis, compare, summary
from ray_xr.report.render import write_report

# (model, level, language) -> 0/1 outcomes of four test examples (accuracy)
HAND = {
    ("none", 0.0, "de"): [1, 1, 0, 0], ("none", 0.5, "de"): [1, 0, 0, 0],
    ("nli", 0.0, "de"): [1, 1, 1, 0], ("nli", 0.5, "de"): [1, 1, 0, 0],
    ("none", 0.0, "fr"): [1, 0, 0, 0], ("none", 0.5, "fr"): [0, 0, 0, 0],
    ("nli", 0.0, "fr"): [1, 1, 0, 0], ("nli", 0.5, "fr"): [1, 0, 0, 0],
    **{(m, lv, "en"): [1, 1, 1, 1] for m in ("none", "nli") for lv in (0.0, 0.5)},
}


def write_run(run_dir, outcomes: dict, target="xnli", metric="accuracy", seed=1) -> list[dict]:
    """results.jsonl and one outcomes.parquet per evaluation; outcomes[(model, level, lang)] is
    a list of scores or a dict of columns."""
    records = []
    for (model, level, lang), columns in outcomes.items():
        columns = columns if isinstance(columns, dict) else {"score": [float(x) for x in columns]}
        n = len(columns["score"])
        key = f"eval-{target}-{model}-{seed}-{level}-{lang}"
        path = run_dir / "stages" / key / "outcomes.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"example_id": [f"{lang}{i}" for i in range(n)], **columns}), path)
        records.append({"intermediate": model, "target": target, "seed": seed, "noise": "char", "level": level,
                        "language": lang, "metric": metric, "value": from_outcomes(METRICS[metric], columns), "n": n,
                        "stage": key})
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
    [entry] = found.headline
    assert (entry["most_robust"], entry["runner_up"]) == ("nli", "none")
    assert entry["diff"] == pytest.approx(0.8 - 2 / 3) and not entry["significant"]


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
    assert data["comparisons"] and all(set(c) == set(compare.COMPARISON_KEYS) for c in data["comparisons"])
    [entry] = data["headline"]
    assert entry["target"] == "xnli" and entry["most_robust"] in ("nli", "none") and "significant" in entry
    tex = (out / "robustness.tex").read_text(encoding="utf-8")
    assert r"\toprule" in tex and r"\pm" not in tex and r"^{\uparrow}" in tex  # one seed: no std
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.replace("https://", "")
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
