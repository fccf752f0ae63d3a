"""Robustness tables from a sweep's results.jsonl.

Standard library only (no ray, torch or transformers): reports must be rebuildable from a
copied run directory on any machine.

Input, RUN_DIR/results.jsonl: one JSON object per line and per (intermediate, target, seed,
noise, level, language), with keys intermediate, target, seed, noise, level, language,
metric, value (0-100) and n (evaluated examples), plus optional extras. level 0 is clean.
Intermediate task ``none`` is the baseline without intermediate training.

Aggregation: a cell is the unweighted mean of ``value`` over the target languages other
than the source language, computed per seed, then mean and sample std over seeds. The drop
is clean minus noisy (points, positive = noise hurts), paired per seed over the seeds
present at both levels. A repeated (intermediate, target, seed, noise, level, language) or a
target reported under two metrics is an error, not something to average away.

Outputs, in RUN_DIR/report/ (each written atomically):

robustness.md
    Titled with the sweep's name: score table, drop table, source-language table, a table per
    target of every language's score, numbers to one decimal, and the provenance
    (ray_xr.report.provenance: sweep, model, git SHA, library versions, dates).
robustness.csv
    Long form, one row per intermediate x target x noise x level (clean rows included, once
    per noise kind, with drop 0). Columns, in this order:

    intermediate, target, metric, noise, level
        the cell's key; level 0 is clean.
    mean, std
        mean and sample std over seeds of the per-seed mean over non-source languages.
    seeds, languages
        number of seeds and of distinct non-source languages behind the cell.
    drop, drop_std
        clean minus this level (points), mean and sample std over the paired seeds.
    source_mean, source_std
        the source-language (English by default) score at this level, over seeds.
    realised_level, attack_success_rate
        means of these optional record keys over the non-source languages and seeds that
        have them (empty when none does): the fraction of words the noise really changed, and
        for the model-aware `attack` kind the percentage of originally correct examples it
        broke.

    With several noise kinds the markdown shows one clean column per target (the clean
    evaluation is the same stage for every kind) and each kind's levels as their own columns,
    split into one table per target when wide; an "Attack success rate" table follows when
    records carry attack_success_rate.

    Numbers are rounded to 4 decimals; std columns are empty with fewer than two seeds, drop
    is empty without a clean cell.
per_language.csv
    Every record, columns intermediate, target, seed, noise, level, language, metric, value,
    n, then extra keys in order of first appearance, values as recorded (not rounded); sorted
    by intermediate (baseline first), target, noise (order of first appearance), level, seed
    and language.

With per-example outcome files (stages/<stage>/outcomes.parquet, `stage` the record's
evaluation stage), robustness.csv and per_language.csv gain 95% interval columns
(ray_xr.report.summary), and the report adds comparisons.csv, summary.json, robustness.tex,
plots/*.png and report.html (ray_xr.report.compare, tex, plots, html).

Rendering and writing these files: ray_xr.report.render.
"""
from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ray_xr.errors import ReportError

BASELINE = "none"
RECORD_KEYS = ("intermediate", "target", "seed", "noise", "level", "language", "metric", "value", "n")
ROBUSTNESS_COLUMNS = (
    "intermediate", "target", "metric", "noise", "level", "mean", "std", "seeds", "languages",
    "drop", "drop_std", "source_mean", "source_std", "realised_level", "attack_success_rate",
)
# Optional per-record numbers averaged like the scores (non-source languages, then seeds).
_AVERAGED_EXTRAS = ("realised_level", "attack_success_rate")


def load_results(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "results.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; has the sweep written any result yet?") from None
    records = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ReportError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
        problem = _record_problem(record)
        if problem:
            raise ReportError(f"{path}:{lineno}: {problem}")
        records.append(record)
    return records


def _record_problem(record) -> str | None:
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        return f"missing key(s) {', '.join(missing)}"
    for key in ("intermediate", "target", "noise", "language", "metric"):
        if not isinstance(record[key], str) or not record[key]:
            return f"{key} must be a non-empty string, got {record[key]!r}"
    if not _is_number(record["value"]) or not math.isfinite(record["value"]):
        return f"value must be a finite number, got {record['value']!r}"
    if not _is_number(record["level"]) or not record["level"] >= 0:
        return f"level must be a number >= 0, got {record['level']!r}"
    if isinstance(record["seed"], bool) or not isinstance(record["seed"], (int, str)):
        return f"seed must be an integer or a string, got {record['seed']!r}"
    if isinstance(record["n"], bool) or not isinstance(record["n"], int) or record["n"] < 0:
        return f"n must be an integer >= 0, got {record['n']!r}"
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def first_seen(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def level_label(noise: str, level: float) -> str:
    return "clean" if level == 0 else f"{noise} {level:g}"


def cell_order(records: Sequence[dict]) -> Callable[..., tuple]:
    """Sort key over (intermediate, target, noise, level): the baseline first, else file order."""

    def ranks(field: str) -> dict[str, int]:
        return {name: i for i, name in enumerate(first_seen(r[field] for r in records))}

    intermediate, target, noise = ranks("intermediate"), ranks("target"), ranks("noise")
    return lambda i, t, n, level: (i != BASELINE, intermediate[i], target[t], noise[n], level)


def _extra_means(records: Sequence[dict], source_language: str) -> dict:
    """(intermediate, target, noise, level) -> {extra key: mean over non-source records having it}."""
    values = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["language"] == source_language:
            continue
        cell = (r["intermediate"], r["target"], r["noise"], float(r["level"]))
        for key in _AVERAGED_EXTRAS:
            if _is_number(r.get(key)):
                values[cell][key].append(r[key])
    return {cell: {key: statistics.fmean(v) for key, v in by_key.items()} for cell, by_key in values.items()}


def _seed_means(records: Sequence[dict], source_language: str) -> dict:
    """(intermediate, target, noise, level) -> per-seed language means, split source/others."""
    values = defaultdict(lambda: {"other": defaultdict(list), "source": defaultdict(list)})
    languages = defaultdict(set)
    seen = set()
    for r in records:
        level = float(r["level"])
        identity = (r["intermediate"], r["target"], r["seed"], r["noise"], level, r["language"])
        if identity in seen:
            raise ReportError(f"duplicate result for {_describe(identity)}")
        seen.add(identity)
        cell = (r["intermediate"], r["target"], r["noise"], level)
        side = "source" if r["language"] == source_language else "other"
        values[cell][side][r["seed"]].append(r["value"])
        if side == "other":
            languages[cell].add(r["language"])
    means = {}
    for cell, sides in values.items():
        means[cell] = {side: {seed: statistics.fmean(v) for seed, v in by_seed.items()}
                       for side, by_seed in sides.items()}
        means[cell]["languages"] = len(languages[cell])
    return means


def _describe(identity: tuple) -> str:
    names = ("intermediate", "target", "seed", "noise", "level", "language")
    return ", ".join(f"{name}={value}" for name, value in zip(names, identity))


def target_metrics(records: Sequence[dict]) -> dict[str, str]:
    metrics: dict[str, str] = {}
    for r in records:
        known = metrics.setdefault(r["target"], r["metric"])
        if known != r["metric"]:
            raise ReportError(f"target {r['target']} has two metrics, {known} and {r['metric']}")
    return metrics


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _std(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def robustness_rows(records: Sequence[dict], source_language: str = "en") -> list[dict]:
    """Aggregated cells, one dict per ROBUSTNESS_COLUMNS row, in table order."""
    for i, record in enumerate(records, 1):
        problem = _record_problem(record)
        if problem:
            raise ReportError(f"record {i}: {problem}")
    metrics = target_metrics(records)
    cells = _seed_means(records, source_language)
    extras = _extra_means(records, source_language)
    order = cell_order(records)
    rows = []
    for cell in sorted(cells, key=lambda c: order(*c)):
        intermediate, target, noise, level = cell
        other, source = cells[cell]["other"], cells[cell]["source"]
        clean = cells.get((intermediate, target, noise, 0.0), {}).get("other", {})
        drops = [clean[seed] - other[seed] for seed in other if seed in clean]
        rows.append({
            "intermediate": intermediate, "target": target, "metric": metrics[target],
            "noise": noise, "level": level,
            "mean": _mean(list(other.values())), "std": _std(list(other.values())),
            "seeds": len(other), "languages": cells[cell]["languages"],
            "drop": _mean(drops), "drop_std": _std(drops),
            "source_mean": _mean(list(source.values())), "source_std": _std(list(source.values())),
            **{key: extras.get(cell, {}).get(key) for key in _AVERAGED_EXTRAS},
        })
    return rows


def in_sweep_order(records: Sequence[dict], sweep: dict) -> list[dict]:
    """Records in the order the sweep lists its intermediate tasks and targets (stable
    otherwise): results.jsonl is sorted by name, and records arrive as stages finish; neither is
    the order the sweep's author chose, and a report should not change with either."""
    def rank(field: str) -> dict:
        listed = sweep.get(field)
        if not isinstance(listed, list):
            return {}
        # an intermediate variant is {name, task, ...}: its name is what the records carry
        return {entry["name"] if isinstance(entry, dict) else entry: i for i, entry in enumerate(listed)}

    inters, targets = rank("intermediate"), rank("targets")
    return sorted(records, key=lambda r: (inters.get(r["intermediate"], len(inters)),
                                          targets.get(r["target"], len(targets))))


def sweep_source_language(run_dir: Path) -> str:
    path = run_dir / "sweep.json"
    if not path.exists():
        return "en"
    try:
        sweep = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err.msg})") from None
    language = sweep.get("source_language", "en") if isinstance(sweep, dict) else "en"
    if not isinstance(language, str) or not language:
        raise ReportError(f"{path}: source_language must be a non-empty string, got {language!r}")
    return language

