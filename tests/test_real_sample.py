"""sweeps/real_sample.yaml, shrunk: the whole pipeline (real Ray, real TorchTrainer) on the real
sample files, English training data from the samples, zero-shot to their other languages: the
classification, tagging, span-QA, retrieval and ranking heads on real text."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from tests.conftest import REAL_DATA, TINY, needs_real_data, ray_xr, run_on, shipped_sweep

pytestmark = needs_real_data


def test_real_sample_sweep_runs_end_to_end(local_cluster, tmp_path):
    sweep = shipped_sweep("real_sample")
    # the sample's SQuAD stand-in is XQuAD's English test file: nothing to select on without test items
    sweep.update(intermediate_training=TINY["intermediate_training"], resources=TINY["resources"],
                 target_training={**TINY["target_training"], "model_selection": "last"})
    sweep["embedded"] = {**TINY["embedded"], "corpus_tasks": ["mnli", "panx"]}
    sweep["data"].update(train_size=64, dev_size=16, test_size=24)
    # the intermediate stage is multi-task here: MNLI and UD-POS batches under temperature sampling
    sweep.update(intermediate=["none", "mnli+udpos"], multitask={"sampling": "temperature", "temperature": 2.0})
    sweep.update(targets=["xnli", "panx", "xquad", "tatoeba", "lareqa"], noise={"kinds": ["char"], "levels": [0, 0.5]},
                 languages={"xnli": ["de"], "panx": ["en", "fr"], "xquad": ["de"], "tatoeba": ["ru"], "lareqa": ["de"]})
    path = tmp_path / "real_sample.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = run_on(local_cluster, path, tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "runs" / "real_sample"
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    cells = {(r["intermediate"], r["target"], r["language"], r["level"]) for r in records}
    assert cells == {(i, t, lang, level) for i in ("none", "mnli+udpos") for t, langs in (("xnli", ["de"]),
                     ("panx", ["en", "fr"]), ("xquad", ["de"]), ("tatoeba", ["ru"]), ("lareqa", ["de"]))
                     for lang in langs for level in (0, 0.5)}
    assert all(r["n"] == 24 and 0 <= r["value"] <= 100 for r in records)
    rows = list(csv.DictReader((run_dir / "report" / "robustness.csv").open()))
    assert {(r["intermediate"], r["target"]) for r in rows} == {
        (i, t) for i in ("none", "mnli+udpos") for t in ("xnli", "panx", "xquad", "tatoeba", "lareqa")}
    assert {r["metric"] for r in records if r["target"] == "xquad"} == {"squad"}
    assert {r["metric"] for r in records if r["target"] == "lareqa"} == {"map@20"}
    md = (run_dir / "report" / "robustness.md").read_text()
    assert "| none |" in md and "| mnli+udpos |" in md and "panx char 0.5" in md
    xtreme_r = (run_dir / "report" / "xtreme_r.md").read_text()
    assert "over 5 of its 10 tasks (partial" in xtreme_r and "| mnli+udpos |" in xtreme_r
    [inter] = [json.loads(p.read_text()) for p in (run_dir / "stages").glob("*/stage.json")
               if json.loads(p.read_text())["phase"] == "intermediate"]
    assert set(inter["spec"]["tasks"]) == {"mnli", "udpos"} and inter["metrics"]["best_dev_score"] > 0
    check_feature_cache_and_export(tmp_path, run_dir)


def check_feature_cache_and_export(tmp_path, run_dir):
    # xnli trained after none and after mnli+udpos, evaluated clean and noisy: tokenized once per input
    # train, test de x 2 levels (no dev: the targets keep their last epoch)
    assert len(list((run_dir / "cache" / "features").glob("xnli-*.json"))) == 3
    out = tmp_path / "submission"
    refused = ray_xr("export", str(run_dir), str(out), "--intermediate", "mnli+udpos")
    assert refused.returncode == 2 and "capped by data.test_size" in refused.stderr and not out.exists()
    result = ray_xr("export", str(run_dir), str(out), "--intermediate", "mnli+udpos", "--allow-capped")
    assert result.returncode == 0, result.stderr
    assert "capped test sets" in result.stdout and "xnli/de" in result.stdout
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["lareqa/test-de.json", "panx/test-en.tsv", "panx/test-fr.tsv", "tatoeba/test-ru.tsv",
                     "xnli/test-de.tsv", "xquad/test-de.json"]
    labels = (out / "xnli/test-de.tsv").read_text().splitlines()
    assert len(labels) == 24 and set(labels) <= {"entailment", "neutral", "contradiction"}
    assert len(json.loads((out / "xquad/test-de.json").read_text())) == 24
    # LAReQA: each German question's 20 best sentences from the pool of all five sample languages
    ranked = json.loads((out / "lareqa/test-de.json").read_text())
    assert len(ranked) == 24 and all(len(ids) == 20 for ids in ranked.values())
    assert {i.split("_")[0] for ids in ranked.values() for i in ids} > {"xquad.de"}
    assert all(0 <= int(i) < 24 for i in (out / "tatoeba/test-ru.tsv").read_text().split())
    sentences = (out / "panx/test-fr.tsv").read_text().split("\n\n")
    assert len([s for s in sentences if s.strip()]) == 24
    missing = ray_xr("export", str(run_dir), str(out), "--intermediate", "qqp")
    assert missing.returncode == 2 and "no finished clean predictions" in missing.stderr


def test_published_real_noise_beside_its_aligned_clean_subset_and_char_noise(local_cluster, tmp_path):
    """sweeps/real_noise.yaml, shrunk: XNLI de and PAN-X fr under char noise, the calibrated typo
    kind and the published real-typo sets, whose clean score and drop cover the aligned examples."""
    sweep = shipped_sweep("real_noise")
    sweep.update({key: TINY[key] for key in ("intermediate_training", "target_training", "resources")},
                 intermediate=["none"])
    sweep["embedded"] = {**TINY["embedded"], "corpus_tasks": ["mnli", "panx"]}
    sweep["data"].update(train_size=64, dev_size=16)
    sweep["noise"] = {**sweep["noise"], "levels": [0, 0.2]}
    path = tmp_path / "real_noise.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = run_on(local_cluster, path, tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "runs" / "real_noise"
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    real = {(r["target"], r["level"]): r for r in records if r["noise"] == "realtypos"}
    assert set(real) == {("xnli", 0.0), ("xnli", 0.05), ("panx", 0.0), ("panx", 0.1)}
    assert real["panx", 0.0]["n"] == real["panx", 0.1]["n"] == 232 and real["xnli", 0.0]["n"] == 65
    assert real["panx", 0.1]["realised_level"] > 0.1 and real["panx", 0.0]["realised_level"] == 0
    assert {r["n"] for r in records if r["noise"] == "char" and r["target"] == "panx"} == {300}
    rows = {(r["target"], r["noise"], r["level"]): r for r in csv.DictReader((run_dir / "report" / "robustness.csv").open())}
    drop = float(rows["panx", "realtypos", "0.1"]["drop"])
    assert abs(drop - (real["panx", 0.0]["value"] - real["panx", 0.1]["value"])) < 1e-3
