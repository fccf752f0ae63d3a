"""The statistics of a run, from its evaluations' outcome files (outcomes.parquet, read with
pyarrow): intervals for every table cell, per-language intervals, drops, relative drops,
transfer gaps and robustness (normalised AUC, mean score over the levels).

One Panel per target holds every evaluation of that target as a tensor of scores indexed
[model, seed, point, language], a point being a (noise kind, level). Its bootstrap replicates
resample the test examples and apply the same draw to every model, seed and level: differences
(a minus b, clean minus noisy) are then paired, as the examples are. Where a target's test sets
are translations of the same items (the records say `parallel_test`: XNLI, and every synthetic
task), an item is drawn once for every language, so that its translations travel together;
otherwise each language's examples are drawn apart. Seeds are held fixed in the replicates:
the variation between training runs enters through the seeds themselves (stats.recipe_test).

A table cell is the mean over non-source languages, then over seeds, as in
ray_xr.report.results. Every measure is computed per seed (per training run) and then averaged,
and its interval is stats.arm_interval: over seeds and examples with two seeds or more, over the
examples of the one run otherwise.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ray_xr.metrics import METRICS
from ray_xr.report import stats
from ray_xr.report.results import BASELINE, first_seen

N_BOOT = 1000
OUTCOMES_FILE = "outcomes.parquet"  # in the evaluation's stage folder (ray_xr.tasks.outcomes writes it)
N_PERM = 2000


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
        table = pq.read_table(path)
    except OSError:
        return None
    ratio = METRICS[metric].ratio

    def weighted(weights) -> np.ndarray:
        if weights is None:
            return np.ones(table.num_rows)
        return sum(w * table.column(name).to_numpy().astype(float) for name, w in weights.items())

    return _ids(table.column("example_id")), weighted(ratio.numerator), weighted(ratio.denominator)


_IDS: dict[str, list[str]] = {}


def _ids(column) -> list[str]:
    """The example ids of a column, one list per distinct test set: every model, seed and noise
    level of a language reads the same ids (3,600 evaluations of nli_vs_ner, ~100 test sets), and
    a list of Python strings costs ~60 bytes an id."""
    column = column.cast("string").combine_chunks()
    digest = hashlib.sha256(b"".join(bytes(b) for b in column.buffers() if b is not None)).hexdigest()
    if digest not in _IDS:
        _IDS[digest] = [str(i) for i in column.to_pylist()]
    return _IDS[digest]


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
    boot: np.ndarray  # [replicate, model, seed, point, language], examples resampled, seeds fixed
    n_examples: dict[str, int]
    columns: dict[str, dict[tuple, tuple[np.ndarray, np.ndarray]]] = field(repr=False)  # lang -> unit -> (num, den)
    items: dict[str, list[str]] = field(repr=False, default_factory=dict)  # lang -> example ids, the columns' order
    parallel: bool = False  # the languages' test sets are translations of the same items

    @property
    def others(self) -> list[int]:
        return [i for i, lang in enumerate(self.languages) if lang != self.source]

    def index(self, model: str, point: tuple[str, float]) -> tuple[int, int]:
        return self.models.index(model), self.points.index(point)


def draws(panel: Panel, sampler: Callable, size: int, *name,
          keep: dict | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Blocks of per-language weights from `sampler` (stats.resample_weights or flip_masks), the
    same replicates in every language: drawn over the items shared by every language when the
    test sets are translations of each other, else per language; for the examples `keep` says
    (lang -> positions; default: all)."""
    keep = keep if keep is not None else {lang: np.arange(len(ids)) for lang, ids in panel.items.items()}
    # every language's block is held at once: together they stay within the chunk's memory
    step = max(1, stats._CELLS_PER_CHUNK // max(1, sum(len(k) for k in keep.values())))
    if panel.parallel:
        union = first_seen(i for ids in panel.items.values() for i in ids)
        position = {item: k for k, item in enumerate(union)}
        take = {lang: np.array([position[panel.items[lang][k]] for k in kept], dtype=int)
                for lang, kept in keep.items()}
        for block in sampler(stats.rng_for(*name), len(union), size, step):
            yield {lang: block[:, t] for lang, t in take.items()}
        return
    blocks = {lang: sampler(stats.rng_for(*name, lang), len(kept), size, step) for lang, kept in keep.items()}
    for _ in range(0, size, step):
        yield {lang: next(block) for lang, block in blocks.items()}


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
    noises = first_seen(r["noise"] for r in kept)
    points = sorted(first_seen((r["noise"], float(r["level"])) for r in kept), key=lambda p: (noises.index(p[0]), p[1]))
    languages = sorted(loaded)
    columns, items = {}, {}
    for lang in languages:
        items[lang], columns[lang] = _aligned(loaded[lang])
    shape = (len(models), len(seeds), len(points), len(languages))
    panel = Panel(target, metric, models, seeds, points, languages, source, np.full(shape, np.nan),
                  np.full((n_boot,) + shape, np.nan), {lang: len(ids) for lang, ids in items.items()},
                  columns, items, all(r.get("parallel_test") for r in kept))
    stacked = {lang: (np.stack([c[0] for c in columns[lang].values()], 1),
                      np.stack([c[1] for c in columns[lang].values()], 1)) for lang in languages}  # examples x units
    single = {lang: (num.astype(np.float32), den.astype(np.float32)) for lang, (num, den) in stacked.items()}
    where = {lang: [(models.index(m), seeds.index(s), points.index(p)) for m, s, p in columns[lang]]
             for lang in languages}
    done = 0
    for block in draws(panel, stats.resample_weights, n_boot, "boot", target):
        rows = slice(done, done + len(next(iter(block.values()))))
        for li, lang in enumerate(languages):
            num, den = single[lang]
            reps = stats.ratio(np.dot(block[lang], num), np.dot(block[lang], den))
            for k, (mi, si, pi) in enumerate(where[lang]):
                panel.boot[rows, mi, si, pi, li] = reps[:, k]
        done = rows.stop
    for li, lang in enumerate(languages):
        full = stats.ratio(stacked[lang][0].sum(0), stacked[lang][1].sum(0))
        for k, (mi, si, pi) in enumerate(where[lang]):
            panel.estimate[mi, si, pi, li] = full[k]
    return panel


def _aligned(units: dict) -> tuple[list[str], dict[tuple, tuple[np.ndarray, np.ndarray]]]:
    """The example ids every unit of the language has (in one order), and each unit's columns
    on them."""
    first = next(iter(units.values()))[0]
    if all(ids is first or ids == first for ids, _, _ in units.values()):  # one test set in one order: the usual
        return first, {unit: (num, den) for unit, (_, num, den) in units.items()}
    common = None
    for ids, _, _ in units.values():
        common = set(ids) if common is None else common & set(ids)
    order = [i for i in first if i in common]
    out = {}
    for unit, (ids, num, den) in units.items():
        position = {i: k for k, i in enumerate(ids)}
        take = np.array([position[i] for i in order], dtype=int)
        out[unit] = (num[take], den[take])
    return order, out


def seed_cells(values: np.ndarray, panel: Panel) -> np.ndarray:
    """[..., model, seed, point, language] -> [..., model, seed, point]: each training run's
    table cell, the mean over non-source languages."""
    return stats.nanmean(values[..., panel.others], axis=-1)


def source_cells(values: np.ndarray, panel: Panel) -> np.ndarray:
    if panel.source not in panel.languages:
        return np.full(values.shape[:-1], np.nan)
    return values[..., panel.languages.index(panel.source)]


def curve(panel: Panel, noise: str) -> tuple[list[float], list[int]]:
    """The levels of a noise kind's curve (clean first) and their point indices."""
    pairs = sorted((level, i) for i, (n, level) in enumerate(panel.points) if n == noise)
    return [level for level, _ in pairs], [i for _, i in pairs]


CURVE_MEASURES = {"mean_score": stats.mean_score, "auc": stats.normalised_auc}


def curves(panel: Panel, values: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """(measure, noise kind) -> each curve measure of CURVE_MEASURES computed per run: `values`
    [..., point] -> [...]; only kinds with the clean level and a noisy one."""
    out = {}
    for noise in first_seen(n for n, _ in panel.points):
        levels, idx = curve(panel, noise)
        if len(levels) >= 2 and levels[0] == 0:
            for name, measure in CURVE_MEASURES.items():
                out[name, noise] = measure(levels, values[..., idx])
    return out


def _triple(prefix: str, found: tuple, k=...) -> dict:
    value, low, high = (np.asarray(x)[k] for x in found)
    if np.isnan(value):
        return {f"{prefix}value": None, f"{prefix}ci_low": None, f"{prefix}ci_high": None}
    return {f"{prefix}value": float(value), f"{prefix}ci_low": float(low), f"{prefix}ci_high": float(high)}


def measures(panel: Panel) -> dict[tuple[str, str, float], dict]:
    """(model, noise, level) -> score, drop, relative drop, transfer gap (each with its 95%
    interval) and the curve's normalised AUC and mean score, from the outcome files."""
    est, boot = seed_cells(panel.estimate, panel), seed_cells(panel.boot, panel)  # [m, s, p], [r, m, s, p]
    gap_est, gap_boot = source_cells(panel.estimate, panel) - est, source_cells(panel.boot, panel) - boot
    clean = np.array([panel.points.index((n, 0.0)) if (n, 0.0) in panel.points else -1 for n, _ in panel.points])
    n_examples = sum(panel.n_examples[panel.languages[i]] for i in panel.others)
    out = {}
    for mi, model in enumerate(panel.models):
        e, b = est[mi], boot[:, mi]
        value = stats.arm_interval(e, b)
        gap = stats.arm_interval(gap_est[mi], gap_boot[:, mi])
        drop = stats.arm_interval(e[:, clean] - e, b[:, :, clean] - b)
        replicated = curves(panel, b)
        found = {key: stats.arm_interval(v, replicated[key]) for key, v in curves(panel, e).items()}
        for pi, (noise, level) in enumerate(panel.points):
            row = {"n_examples": n_examples, **_triple("", value, pi), **_triple("gap_", gap, pi)}
            if clean[pi] >= 0:
                row.update(_triple("drop_", drop, pi))
                rel = stats.relative_drop(value[0][clean[pi]], value[0][pi])
                row["relative_drop"] = None if np.isnan(rel) else float(rel)
            for name in CURVE_MEASURES:
                triple = _triple("", found[name, noise]) if (name, noise) in found else {"value": None}
                row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (
                    triple["value"], triple.get("ci_low"), triple.get("ci_high"))
            out[model, noise, level] = row
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
