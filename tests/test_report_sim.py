"""What the report's tests promise, measured on simulated studies written as run folders
(tests/simstudy.py: results.jsonl and outcome files, seed variance planted) and read back by the
report's own code. Small here (seconds); `python -m tests.simstudy --studies 500` gives the
full-size figures of docs/statistics.md."""
from __future__ import annotations

import json

from tests.conftest import ray_xr
from tests.simstudy import Study, marked, rate, write

import numpy as np

STUDIES = 40  # each ~0.1 s with 200 replicates


def test_null_studies_mark_an_nli_ner_row_in_at_most_10_percent():
    """3 seeds per arm, seed s.d. 1.5 points per run and language, 5 languages x 1,000
    examples, clean and one noise level, no difference planted: the share of studies in which
    either nli-vs-ner row is significant after Holm (measured here: 0 of 40; 2.3% of 300 at
    500 replicates, docs/statistics.md). Its intervals cover the true 0 in about 95% of rows or more."""
    found = rate(Study(), STUDIES, seed=1)
    assert found["any_marked"] <= 0.10, found
    assert found["coverage"] >= 0.9, found


def test_a_planted_three_point_difference_is_found():
    """The same studies with nli 3 points better: detected (a row significant) in 35 of 40
    here (82.3% of 300 at 500 replicates, docs/statistics.md)."""
    found = rate(Study(planted=3.0), STUDIES, seed=2)
    assert found["any_marked"] >= 0.7, found


def test_one_seed_marks_are_about_the_trained_models(tmp_path):
    records = write(tmp_path, Study(seeds=1, examples=300), np.random.default_rng(0))
    found = marked(tmp_path, records, n_boot=100, n_perm=100)
    assert {r["test"] for r in found["rows"]} == {"checkpoint_permutation"}
    assert all("about these trained models" in e["text"] for e in found["headline"])


def test_a_simulated_study_through_the_command_line(tmp_path):
    write(tmp_path, Study(examples=200), np.random.default_rng(1))
    result = ray_xr("report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "report" / "summary.json").read_text(encoding="utf-8"))
    assert {c["test"] for c in data["comparisons"]} == {"recipe_t"}
    assert all(c["df"] > 1 for c in data["comparisons"])
    assert "the unit is the training run (3 seeds per task)" in " ".join(result.stdout.split())
