"""sweeps/real_sample.yaml, shrunk: the whole pipeline (real Ray, real TorchTrainer) on the real
sample files, English training data from the samples, zero-shot to their other languages: the
classification, tagging, span-QA and retrieval heads on real text."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from tests.conftest import REAL_DATA, REPO, TINY, ray_xr

pytestmark = pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data samples not found at {REAL_DATA}")


def test_real_sample_sweep_runs_end_to_end(tmp_path):
    sweep = yaml.safe_load((REPO / "sweeps/real_sample.yaml").read_text())
    sweep.update({key: TINY[key] for key in ("embedded", "intermediate_training", "target_training")})
    sweep["data"].update(train_size=64, dev_size=16, test_size=24)
    sweep.update(targets=["xnli", "panx", "xquad", "tatoeba"], noise={"kinds": ["char"], "levels": [0, 0.5]},
                 languages={"xnli": ["de"], "panx": ["en", "fr"], "xquad": ["de"], "tatoeba": ["ru"]})
    path = tmp_path / "real_sample.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ray_xr("run", str(path), "--storage", str(tmp_path / "runs"))  # run from the repo root
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "runs" / "real_sample"
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    cells = {(r["intermediate"], r["target"], r["language"], r["level"]) for r in records}
    assert cells == {(i, t, lang, level) for i in ("none", "mnli") for t, langs in (("xnli", ["de"]),
                     ("panx", ["en", "fr"]), ("xquad", ["de"]), ("tatoeba", ["ru"])) for lang in langs for level in (0, 0.5)}
    assert all(r["n"] == 24 and 0 <= r["value"] <= 100 for r in records)
    rows = list(csv.DictReader((run_dir / "report" / "robustness.csv").open()))
    assert {(r["intermediate"], r["target"]) for r in rows} == {
        (i, t) for i in ("none", "mnli") for t in ("xnli", "panx", "xquad", "tatoeba")}
    assert {r["metric"] for r in records if r["target"] == "xquad"} == {"squad"}
    md = (run_dir / "report" / "robustness.md").read_text()
    assert "| none |" in md and "| mnli |" in md and "panx char 0.5" in md
