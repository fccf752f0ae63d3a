"""The statistics of a run, from its evaluations' outcome files (outcomes.parquet, read with
pyarrow): confidence intervals for every table cell, per-language intervals, drops, relative
drops, transfer gaps, robustness (normalised AUC) and paired comparisons of intermediate tasks.

One Panel per target holds every evaluation of that target as a tensor of scores indexed
[model, seed, point, language], a point being a (noise kind, level). Its bootstrap replicates
resample the test examples of each language once per replicate and apply the same draw to
every model, seed and level: differences (a minus b, clean minus noisy) are then paired, as
the examples are. Seeds, when several, are resampled as well, independently per model (two
models' seeds are different trainings). A table cell is the mean over non-source languages,
then over seeds, as in ray_xr.report.results; its interval comes from the same mean taken in
every replicate.

Paired tests permute: each test example's outcomes are swapped between the two models with
probability 1/2, at every seed and level at once (the example's outcomes travel together), and
the statistic is recomputed. The p-value so conditions on the trained models: the variation
between seeds is in the interval and in the ± std, not in p.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ray_xr.metrics import METRICS
from ray_xr.report import stats
from ray_xr.report.results import BASELINE, first_seen

N_BOOT = 1000
OUTCOMES_FILE = "outcomes.parquet"  # in the evaluation's stage folder (ray_xr.tasks.outcomes writes it)
N_PERM = 2000


def nanmean(values, axis):
    with warnings.catch_warnings():  # an all-missing slice is a missing cell, not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def read_outcomes(path: Path, metric: str) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(example ids, numerator, denominator) of one outcome file, None if it is missing."""
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    return _read(str(path), stamp, metric)


# The live report rereads every outcome file every few seconds; they are written once
# (atomically), so a file's modification time identifies its content.
@functools.lru_cache(maxsize=4096)
def _read(path: str, stamp: int, metric: str) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    import pyarrow.parquet as pq  # lazy: only reports with outcome files need pyarrow

    try:
        table = pq.read_table(path).to_pydict()
    except OSError:
        return None
    ratio = METRICS[metric].ratio

    def weighted(weights) -> np.ndarray:
        if weights is None:
            return np.ones(len(table["example_id"]))
        return sum(w * np.asarray(table[name], float) for name, w in weights.items())

    return [str(i) for i in table["example_id"]], weighted(ratio.numerator), weighted(ratio.denominator)


@dataclass
class Panel:
    """Every evaluation of one target with outcomes, as score tensors."""

    target: str
    metric: str
    models: list[str]
    seeds: list
    points: list[tuple[str, float]]
    languages: list[str]
    source: str
    estimate: np.ndarray  # [model, seed, point, language]
    boot: np.ndarray  # [replicate, model, seed, point, language], examples resampled
    boot_seeds: np.ndarray  # the same with seeds resampled too
    n_examples: dict[str, int]
    columns: dict[str, dict[tuple, tuple[np.ndarray, np.ndarray]]] = field(repr=False)  # lang -> unit -> (num, den)

    @property
    def others(self) -> list[int]:
        return [i for i, lang in enumerate(self.languages) if lang != self.source]

    def index(self, model: str, point: tuple[str, float]) -> tuple[int, int]:
        return self.models.index(model), self.points.index(point)


def build_panel(run_dir: Path, records: list[dict], source: str, n_boot: int = N_BOOT) -> Panel | None:
    """The panel of one target's records (those pointing to an outcome file that exists)."""
    if not records:
        return None
    target, metric = records[0]["target"], records[0]["metric"]
    loaded, cache = {}, {}
    for r in records:
        if not r.get("stage"):  # a record from before outcome files: no statistics
            continue
        path = Path(run_dir) / "stages" / r["stage"] / OUTCOMES_FILE
        if path not in cache:
            cache[path] = read_outcomes(path, metric)
        if cache[path] is not None:
            unit = (r["intermediate"], r["seed"], (r["noise"], float(r["level"])))
            loaded.setdefault(r["language"], {})[unit] = cache[path]
    if not loaded:
        return None
    kept = [r for r in records if r["language"] in loaded]
    models = sorted(first_seen(r["intermediate"] for r in kept), key=lambda m: m != BASELINE)
    seeds = sorted(first_seen(r["seed"] for r in kept), key=str)
    points = sorted(first_seen((r["noise"], float(r["level"])) for r in kept),
                    key=lambda p: (first_seen(r["noise"] for r in kept).index(p[0]), p[1]))
    languages = sorted(loaded)
    shape = (len(models), len(seeds), len(points), len(languages))
    estimate, boot = np.full(shape, np.nan), np.full((n_boot,) + shape, np.nan)
    columns, n_examples = {}, {}
    for li, lang in enumerate(languages):
        columns[lang] = _aligned(loaded[lang])
        units = list(columns[lang])
        num = np.stack([columns[lang][u][0] for u in units], axis=1)  # examples x units
        den = np.stack([columns[lang][u][1] for u in units], axis=1)
        n_examples[lang] = len(num)
        where = [(models.index(m), seeds.index(s), points.index(p)) for m, s, p in units]
        full = stats.ratio(num.sum(0), den.sum(0))
        reps = []
        for w in stats.resample_weights(stats.rng_for("boot", target, lang), len(num), n_boot):
            reps.append(stats.ratio(w @ num, w @ den))
        reps = np.concatenate(reps)
        for k, (mi, si, pi) in enumerate(where):
            estimate[mi, si, pi, li] = full[k]
            boot[:, mi, si, pi, li] = reps[:, k]
    return Panel(target, metric, models, seeds, points, languages, source, estimate, boot,
                 _resample_seeds(boot, stats.rng_for("seeds", target)), n_examples, columns)


def _aligned(units: dict) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Each unit's columns on the examples every unit of the language has, in one order."""
    common = None
    for ids, _, _ in units.values():
        common = set(ids) if common is None else common & set(ids)
    first = next(iter(units.values()))[0]
    order = [i for i in first if i in common]
    out = {}
    for unit, (ids, num, den) in units.items():
        position = {i: k for k, i in enumerate(ids)}
        take = np.array([position[i] for i in order], dtype=int)
        out[unit] = (num[take], den[take])
    return out


def _resample_seeds(boot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per replicate and model, the seeds that model has, drawn with replacement."""
    out = np.full_like(boot, np.nan)
    for m in range(boot.shape[1]):
        present = np.flatnonzero(~np.all(np.isnan(boot[:, m]), axis=(0, 2, 3)))
        if len(present) == 0:
            continue
        draw = present[rng.integers(0, len(present), size=(len(boot), len(present)))]
        out[:, m, :len(present)] = np.take_along_axis(boot[:, m], draw[:, :, None, None], axis=1)
    return out


def cell_scores(values: np.ndarray, panel: Panel) -> np.ndarray:
    """[..., model, seed, point, language] -> [..., model, point]: the table cell, the mean over
    non-source languages, then over seeds."""
    return nanmean(nanmean(values[..., panel.others], axis=-1), axis=-2)


def source_scores(values: np.ndarray, panel: Panel) -> np.ndarray:
    if panel.source not in panel.languages:
        return np.full(values.shape[:-3] + values.shape[-2:-1], np.nan)
    return nanmean(values[..., panel.languages.index(panel.source)], axis=-2)


def measures(panel: Panel) -> dict[tuple[str, str, float], dict]:
    """(model, noise, level) -> score, drop, relative drop, transfer gap (each with its 95%
    interval) and the curve's normalised AUC, from the outcome files."""
    est, boot = cell_scores(panel.estimate, panel), cell_scores(panel.boot_seeds, panel)
    gap_est = source_scores(panel.estimate, panel) - est
    gap_boot = source_scores(panel.boot_seeds, panel) - boot
    out = {}
    for mi, model in enumerate(panel.models):
        aucs = _aucs(panel, est[mi], boot[:, mi])
        for pi, (noise, level) in enumerate(panel.points):
            clean = panel.points.index((noise, 0.0)) if (noise, 0.0) in panel.points else None
            row = {"n_examples": sum(panel.n_examples[panel.languages[i]] for i in panel.others)}
            row.update(_with_ci("", est[mi, pi], boot[:, mi, pi]))
            row.update(_with_ci("gap_", gap_est[mi, pi], gap_boot[:, mi, pi]))
            if clean is not None:
                row.update(_with_ci("drop_", est[mi, clean] - est[mi, pi], boot[:, mi, clean] - boot[:, mi, pi]))
                rel = stats.relative_drop(est[mi, clean], est[mi, pi])
                row["relative_drop"] = None if np.isnan(rel) else float(rel)
            row["auc"], row["auc_ci_low"], row["auc_ci_high"] = aucs.get(noise, (None, None, None))
            out[model, noise, level] = row
    return out


def _with_ci(prefix: str, estimate, replicates) -> dict:
    if np.isnan(estimate):
        return {f"{prefix}value": None, f"{prefix}ci_low": None, f"{prefix}ci_high": None}
    low, high = stats.percentile_ci(replicates)
    return {f"{prefix}value": float(estimate), f"{prefix}ci_low": float(low), f"{prefix}ci_high": float(high)}


def curve(panel: Panel, noise: str) -> tuple[list[float], list[int]]:
    """The levels of a noise kind's curve (clean first) and their point indices."""
    pairs = sorted((level, i) for i, (n, level) in enumerate(panel.points) if n == noise)
    return [level for level, _ in pairs], [i for _, i in pairs]


def _aucs(panel: Panel, est: np.ndarray, boot: np.ndarray) -> dict[str, tuple]:
    """noise kind -> (normalised AUC, low, high) of one model's curve ([point] and [rep, point])."""
    out = {}
    for noise in first_seen(n for n, _ in panel.points):
        levels, idx = curve(panel, noise)
        if len(levels) < 2 or levels[0] != 0 or np.isnan(est[idx]).any():
            continue
        value = stats.normalised_auc(levels, est[idx])
        low, high = stats.percentile_ci(stats.normalised_auc(levels, boot[:, idx]))
        out[noise] = (float(value), float(low), float(high))
    return out


def language_intervals(panel: Panel) -> dict[tuple, tuple[float, float]]:
    """(model, seed, noise, level, language) -> the 95% interval of that one evaluation."""
    low, high = stats.percentile_ci(panel.boot)
    out = {}
    for (mi, si, pi, li) in zip(*np.nonzero(~np.isnan(panel.estimate))):
        noise, level = panel.points[pi]
        key = (panel.models[mi], panel.seeds[si], noise, level, panel.languages[li])
        out[key] = (float(low[mi, si, pi, li]), float(high[mi, si, pi, li]))
    return out
