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
    Score table, drop table and source-language table, numbers to one decimal.
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
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

BASELINE = "none"
RECORD_KEYS = ("intermediate", "target", "seed", "noise", "level", "language", "metric", "value", "n")
ROBUSTNESS_COLUMNS = (
    "intermediate", "target", "metric", "noise", "level", "mean", "std", "seeds", "languages",
    "drop", "drop_std", "source_mean", "source_std", "realised_level", "attack_success_rate",
)
# Optional per-record numbers averaged like the scores (non-source languages, then seeds).
_AVERAGED_EXTRAS = ("realised_level", "attack_success_rate")
_TABLE_WIDTH = 12  # more columns than this: one table per target
_STD_OF = {"mean": "std", "drop": "drop_std", "source_mean": "source_std"}
_LANGUAGE_NAMES = {"en": "English"}
_MISSING = "–"


class ReportError(ValueError):
    """Results that cannot be turned into a report; the message is one line for the user."""


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


def _first_seen(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def _cell_order(records: Sequence[dict]) -> Callable[..., tuple]:
    """Sort key over (intermediate, target, noise, level): the baseline first, else file order."""

    def ranks(field: str) -> dict[str, int]:
        return {name: i for i, name in enumerate(_first_seen(r[field] for r in records))}

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


def _target_metrics(records: Sequence[dict]) -> dict[str, str]:
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
    metrics = _target_metrics(records)
    cells = _seed_means(records, source_language)
    extras = _extra_means(records, source_language)
    order = _cell_order(records)
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


def _columns(rows: Sequence[dict]) -> list[tuple[str, str, float, str]]:
    """(target, noise, level, label) per table column. Clean comes first: once per target when
    every kind's clean cells agree (they are one evaluation), else within each noise kind."""
    targets = _first_seen(r["target"] for r in rows)
    noises = _first_seen(r["noise"] for r in rows)
    levels = defaultdict(set)
    clean = defaultdict(set)
    for r in rows:
        levels[r["target"], r["noise"]].add(r["level"])
        if r["level"] == 0:
            clean[r["intermediate"], r["target"]].add((r["mean"], r["source_mean"]))
    shared = len(noises) == 1 or all(len(values) == 1 for values in clean.values())
    columns = []
    for target in targets:
        if shared:
            first = next((n for n in noises if 0 in levels[target, n]), None)
            if first is not None:
                columns.append((target, first, 0.0, f"{target} clean"))
        for noise in noises:
            for level in sorted(levels[target, noise]):
                if level == 0 and not shared:
                    columns.append((target, noise, level, f"{target} {noise} clean"))
                elif level:
                    columns.append((target, noise, level, f"{target} {noise} {level:g}"))
    return columns


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _grid(rows: Sequence[dict], columns: list, field: str, best: Callable) -> list[list[str]]:
    """Markdown cells per intermediate (baseline first); the best value per column in bold."""
    index = {(r["intermediate"], r["target"], r["noise"], r["level"]): r for r in rows}
    intermediates = _first_seen(r["intermediate"] for r in rows)
    grid = [[_escape(name)] for name in intermediates]
    for target, noise, level, _ in columns:
        found = [index.get((name, target, noise, level)) for name in intermediates]
        shown = [round(r[field], 1) for r in found if r and r[field] is not None]
        # Bold only a real winner: when every value ties, bolding all of them says nothing.
        top = best(shown) if len(set(shown)) > 1 else None
        for line, row in zip(grid, found):
            line.append(_cell(row, field, top))
    return grid


def _cell(row: dict | None, field: str, top: float | None) -> str:
    if row is None or row[field] is None:
        return _MISSING
    std = row.get(_STD_OF.get(field, ""))
    text = _number(row[field]) + ("" if std is None else f" ± {_number(std)}")
    return f"**{text}**" if top is not None and round(row[field], 1) == top else text


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _table(first: str, columns: list, grid: list[list[str]]) -> str:
    header = [first] + [_escape(label) for *_, label in columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * len(columns)) + "|",
    ]
    lines += ["| " + " | ".join(line) + " |" for line in grid]
    return "\n".join(lines)


def _language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code, f"`{code}`")


def _languages_phrase(records: Sequence[dict], source_language: str) -> str:
    source = _language_name(source_language)
    targets = _first_seen(r["target"] for r in records)
    others = {t: sorted({r["language"] for r in records if r["target"] == t} - {source_language})
              for t in targets}
    if len({tuple(langs) for langs in others.values()}) == 1:
        langs = others[targets[0]]
        listed = f" ({', '.join(langs)})" if len(langs) <= 12 else ""
        return f"the {len(langs)} non-{source} target languages{listed}"
    counts = "; ".join(f"{t}: {len(langs)}" for t, langs in others.items())
    return f"the non-{source} target languages of each task ({counts})"


def _description(records: Sequence[dict], columns: list, source_language: str) -> str:
    metrics = _target_metrics(records)
    if len(set(metrics.values())) == 1:
        metric = next(iter(metrics.values()))
    else:
        metric = "score (" + "; ".join(f"{t}: {m}" for t, m in metrics.items()) + ")"
    seeds = _first_seen(r["seed"] for r in records)
    if len(seeds) == 1:
        spread = f", from a single seed ({seeds[0]})"
    else:
        spread = f" for each seed, then reported as mean ± sample std over {len(seeds)} seeds"
    sentences = [
        f"Zero-shot cross-lingual transfer from {_language_name(source_language)}.",
        f"Each cell is the test {metric} on a 0-100 scale, averaged over "
        f"{_languages_phrase(records, source_language)}{spread}.",
    ]
    noisy = next((label for _, _, level, label in columns if level > 0), None)
    if noisy:
        sentences.append(f"A column such as `{noisy}` is the test set under that noise and level.")
    attacked = _first_seen(r["noise"] for r in records if r.get("attack_success_rate") is not None)
    if attacked:
        sentences.append(f"Under `{attacked[0]}` a cell is the score under the model-aware attack,"
                         " whose level is the share of words it may edit.")
    intermediates = {r["intermediate"] for r in records}
    if BASELINE in intermediates:
        sentences.append(f"`{BASELINE}` is the baseline without intermediate training.")
    if len(intermediates) > 1:
        sentences.append("The best value per column is in bold.")
    return " ".join(sentences)


def render_markdown(records: Sequence[dict], run_name: str, source_language: str = "en") -> str:
    return _render(records, robustness_rows(records, source_language), run_name, source_language)


def _tables(rows: Sequence[dict], columns: list, field: str, best: Callable) -> list[str]:
    """One table, or one per target (under a heading) when a single one would be too wide."""
    targets = _first_seen(c[0] for c in columns)
    if len(columns) <= _TABLE_WIDTH or len(targets) == 1:
        return [_table("Intermediate task", columns, _grid(rows, columns, field, best))]
    parts = []
    for target in targets:
        mine = [c for c in columns if c[0] == target]
        parts += [f"### {target}", _table("Intermediate task", mine, _grid(rows, mine, field, best))]
    return parts


def _render(records: Sequence[dict], rows: list[dict], run_name: str, source_language: str) -> str:
    title = f"# Robustness: {run_name}"
    if not rows:
        return f"{title}\n\nNo results yet.\n"
    columns = _columns(rows)
    noisy = [c for c in columns if c[2] > 0]
    clean = [c for c in columns if c[2] == 0]
    source = _language_name(source_language)
    parts = [title, _description(records, columns, source_language), "## Scores"]
    parts += _tables(rows, columns, "mean", max)
    if noisy:
        parts += ["## Drop under noise",
                  "Clean minus noisy score in points, paired per seed; larger means less robust."]
        parts += _tables(rows, noisy, "drop", min)
    attacked = [c for c in noisy if any(r["attack_success_rate"] is not None for r in rows
                                        if (r["target"], r["noise"], r["level"]) == c[:3])]
    if attacked:
        parts += ["## Attack success rate",
                  "Percentage of the examples a model got right that the greedy character attack"
                  " made it get wrong (mean over languages and seeds); larger means less robust.",
                  _table("Intermediate task", attacked, _grid(rows, attacked, "attack_success_rate", min))]
    if any(r["source_mean"] is not None for r in rows if r["level"] == 0):
        parts += [
            f"## Source language ({source})",
            f"Clean {source} test score, excluded from the tables above.",
            _table("Intermediate task", clean, _grid(rows, clean, "source_mean", max)),
        ]
    return "\n\n".join(parts) + "\n"


def _csv_value(value, rounded: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and rounded:
        return str(round(value, 4))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _csv_text(header: Sequence[str], rows: Iterable[dict], rounded: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(row.get(column), rounded) for column in header])
    return buffer.getvalue()


def _per_language_text(records: Sequence[dict]) -> str:
    extras = _first_seen(key for r in records for key in r if key not in RECORD_KEYS)
    order = _cell_order(records)

    def sort_key(r: dict) -> tuple:
        seed = r["seed"]
        seed_key = (1, 0, seed) if isinstance(seed, str) else (0, seed, "")
        rank = order(r["intermediate"], r["target"], r["noise"], float(r["level"]))
        return rank + (seed_key, r["language"])

    return _csv_text(RECORD_KEYS + tuple(extras), sorted(records, key=sort_key), rounded=False)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; reports are meant to be shared.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sweep_source_language(run_dir: Path) -> str:
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


def write_report(
    run_dir: Path,
    records: Sequence[dict] | None = None,
    run_name: str | None = None,
    source_language: str | None = None,
) -> Path:
    """Write robustness.md, robustness.csv and per_language.csv; return robustness.md's path.

    source_language defaults to sweep.json's source_language, else English.
    """
    run_dir = Path(run_dir)
    if source_language is None:
        source_language = _sweep_source_language(run_dir)
    if records is None:
        records = load_results(run_dir)
    rows = robustness_rows(records, source_language)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "robustness.csv", _csv_text(ROBUSTNESS_COLUMNS, rows, rounded=True))
    _atomic_write(out / "per_language.csv", _per_language_text(records))
    # The markdown goes last: once it is there, the CSVs beside it match it.
    markdown = out / "robustness.md"
    name = run_name or run_dir.resolve().name
    _atomic_write(markdown, _render(records, rows, name, source_language))
    return markdown
