"""The run's statistics gathered for the report files: interval columns for robustness.csv and
per_language.csv, the comparisons table and summary.json.

Columns added to robustness.csv (after the existing ones; empty where the evaluations behind a
cell have no outcome files):

    ci_low, ci_high            95% bootstrap interval of `mean` (examples, and seeds when several)
    drop_ci_low, drop_ci_high  the same for `drop` (paired: the same examples clean and noisy)
    relative_drop              drop as a percentage of the clean score
    auc, auc_ci_low, auc_ci_high  robustness of the curve (the cell's noise kind): area under
                               score versus level over the clean score times the level range
    gap, gap_ci_low, gap_ci_high  transfer gap: source-language score minus `mean`
    gain, gain_ci_low, gain_ci_high, gain_p_holm  this task minus `none` (points), as in
                               comparisons.csv; empty on the baseline's rows

per_language.csv gains ci_low and ci_high after the record's keys: the interval of that one
evaluation (its test examples resampled).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ray_xr.report import analysis, compare
from ray_xr.report.results import BASELINE, first_seen

EXTRA_COLUMNS = (
    "ci_low", "ci_high", "drop_ci_low", "drop_ci_high", "relative_drop", "auc", "auc_ci_low", "auc_ci_high",
    "gap", "gap_ci_low", "gap_ci_high", "gain", "gain_ci_low", "gain_ci_high", "gain_p_holm",
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
    minimum detectable differences, and how the numbers were made."""
    return {
        "headline": found.headline,
        "comparisons": [{k: row[k] for k in compare.COMPARISON_KEYS} for row in found.comparisons],
        "minimum_detectable_difference": [
            {k: row[k] for k in ("a", "b", "target", "noise", "level", "mdd")} for row in found.comparisons],
        "cells": len(rows),
        "method": {
            "interval": f"95% percentile bootstrap, {analysis.N_BOOT} replicates: test examples resampled per "
                        "language (shared by every model, seed and level), seeds resampled per model",
            "test": f"paired permutation test, {analysis.N_PERM} permutations: each example's outcomes swapped "
                    "between the two tasks with probability 1/2; Holm's correction over every comparison",
            "alpha": compare.ALPHA,
            "mdd": "minimum detectable difference at 5% two-sided and 80% power: 2.80 x the bootstrap SE",
        },
        **({"progress": progress} if progress else {}),
    }
