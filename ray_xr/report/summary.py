"""The run's statistics gathered for the report files: interval columns for robustness.csv and
per_language.csv, the comparisons table and summary.json.

Columns added to robustness.csv (after the existing ones; empty where the evaluations behind a
cell have no outcome files):

    ci_low, ci_high            95% interval of `mean` (stats.arm_interval: over seeds and test
                               examples with two seeds or more, over test examples with one)
    drop_ci_low, drop_ci_high  the same for `drop` (paired: the same examples clean and noisy)
    relative_drop              drop as a percentage of the clean score
    auc, auc_ci_low, auc_ci_high  relative robustness of the curve (the cell's noise kind): area
                               under score versus level over the clean score times the level
                               range, per training run, then the mean over seeds
    mean_score, mean_score_ci_low, mean_score_ci_high  absolute robustness: the area under the
                               curve over the level range, the mean score over the levels (points)
    gap, gap_ci_low, gap_ci_high  transfer gap: source-language score minus `mean`
    gain, gain_ci_low, gain_ci_high, gain_p_holm  this task minus `none` (points), as in
                               comparisons.csv; empty on the baseline's rows

per_language.csv gains ci_low and ci_high after the record's keys: the interval of that one
evaluation (its test examples resampled).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits

from ray_xr.report import analysis, compare
from ray_xr.report.results import BASELINE, first_seen

EXTRA_COLUMNS = (
    "ci_low", "ci_high", "drop_ci_low", "drop_ci_high", "relative_drop", "auc", "auc_ci_low", "auc_ci_high",
    "mean_score", "mean_score_ci_low", "mean_score_ci_high", "gap", "gap_ci_low", "gap_ci_high", "gain", "gain_ci_low",
    "gain_ci_high", "gain_p_holm",
)
LANGUAGE_COLUMNS = ("ci_low", "ci_high")


@dataclass
class Statistics:
    panels: list  # analysis.Panel, one per target with outcome files
    measures: dict  # (target, model, noise, level) -> analysis.measures row
    languages: dict  # (model, target, seed, noise, level, language) -> (low, high)
    comparisons: list[dict]  # compare.COMPARISON_COLUMNS rows
    headline: list[dict]

    def comparison(self, a: str, b: str, target: str, noise: str, level: float) -> dict | None:
        """The row of a minus b at a point; a clean row is kept once per target, under its
        first noise kind, and serves every kind."""
        for row in self.comparisons:
            if (row["a"], row["b"], row["target"]) == (a, b, target) and row["level"] == level \
                    and (row["noise"] == noise or level == 0):
                return row
        return None


def gather(run_dir: Path, records: list[dict], source_language: str,
           n_boot: int = analysis.N_BOOT, n_perm: int = analysis.N_PERM) -> Statistics:
    # BLAS on one thread: the products here are a few rows by a tall matrix each, and OpenBLAS's
    # second thread, waiting for a core on a busy machine, made the whole report ~3x slower
    # (bench/report_scale.py) and stalled the aggregator's record() for up to a second
    with threadpool_limits(limits=1, user_api="blas"):
        return _gather(run_dir, records, source_language, n_boot, n_perm)


def _gather(run_dir: Path, records: list[dict], source_language: str, n_boot: int, n_perm: int) -> Statistics:
    panels = []
    for target in first_seen(r["target"] for r in records):
        panel = analysis.build_panel(run_dir, [r for r in records if r["target"] == target], source_language, n_boot)
        if panel is not None:
            panels.append(panel)
    measures, languages = {}, {}
    for panel in panels:
        measures.update({(panel.target, *key): row for key, row in analysis.measures(panel).items()})
        languages.update({(key[0], panel.target, *key[1:]): ci
                          for key, ci in analysis.language_intervals(panel).items()})
    rows, headline = compare.comparisons(panels, n_perm) if panels else ([], [])
    return Statistics(panels, measures, languages, rows, headline)


def enrich(rows: list[dict], found: Statistics) -> list[dict]:
    """robustness_rows with the EXTRA_COLUMNS filled from the statistics."""
    out = []
    for row in rows:
        m = found.measures.get((row["target"], row["intermediate"], row["noise"], row["level"]), {})
        extra = {"ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"),
                 "drop_ci_low": m.get("drop_ci_low"), "drop_ci_high": m.get("drop_ci_high"),
                 "relative_drop": m.get("relative_drop"), "auc": m.get("auc"),
                 "auc_ci_low": m.get("auc_ci_low"), "auc_ci_high": m.get("auc_ci_high"),
                 "mean_score": m.get("mean_score"), "mean_score_ci_low": m.get("mean_score_ci_low"),
                 "mean_score_ci_high": m.get("mean_score_ci_high"),
                 "gap": m.get("gap_value"), "gap_ci_low": m.get("gap_ci_low"), "gap_ci_high": m.get("gap_ci_high")}
        gain = found.comparison(row["intermediate"], BASELINE, row["target"], row["noise"], row["level"])
        if gain is not None:
            extra.update(gain=gain["diff"], gain_ci_low=gain["ci_low"], gain_ci_high=gain["ci_high"],
                         gain_p_holm=gain["p_holm"])
        out.append({**row, **{k: extra.get(k) for k in EXTRA_COLUMNS}})
    return out


def with_language_intervals(records: list[dict], found: Statistics) -> list[dict]:
    out = []
    for r in records:
        key = (r["intermediate"], r["target"], r["seed"], r["noise"], float(r["level"]), r["language"])
        low, high = found.languages.get(key, (None, None))
        out.append({**r, "ci_low": low, "ci_high": high})
    return out


def summary(found: Statistics, rows: list[dict], progress: dict | None = None) -> dict:
    """summary.json: the headline, every comparison (compare.COMPARISON_KEYS exactly), the
    minimum detectable differences, the test of these trained models beside each, and how the
    numbers were made."""
    return {
        "headline": found.headline,
        "comparisons": [{k: row[k] for k in compare.COMPARISON_KEYS} for row in found.comparisons],
        "minimum_detectable_difference": [
            {k: row[k] for k in ("a", "b", "target", "noise", "level", "mdd")} for row in found.comparisons],
        "these_trained_models": [
            {k: row[k] for k in ("a", "b", "target", "noise", "level", "p_models", "p_models_holm")}
            for row in found.comparisons],
        "cells": len(rows),
        "method": {
            "interval": f"with two seeds or more per task: diff +- t(0.975, df) x SE, SE^2 = between-seed variance / "
                        f"seeds of each task + the variance of the difference over {analysis.N_BOOT} bootstrap "
                        "replicates of the test examples (seeds fixed); with one seed: the percentile interval of "
                        "those replicates. Test examples are resampled per language, or per item across languages "
                        "where the test sets are translations of the same items",
            "test": {test: f"{text}; Holm's correction over every comparison of that test"
                     for test, text in compare.TESTS.items()},
            "p_models": f"paired permutation test, {analysis.N_PERM} permutations: each item's outcomes swapped "
                        "between the two tasks with probability 1/2; about these trained models only",
            "alpha": compare.ALPHA,
            "mdd": "minimum detectable difference at 80% power and Holm's first (Bonferroni) level alpha / m, "
                   "m the comparisons of that test: (t(1 - alpha / 2m, df) + t(0.8, df)) x SE",
        },
        **({"progress": progress} if progress else {}),
    }
