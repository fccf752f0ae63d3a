"""Markdown and CSV text of a sweep's robustness report, and write_report, which writes them.

The files and their columns are specified in ray_xr.report's docstring. Standard library and
ray_xr.report only, like ray_xr.report: reports must be rebuildable on any machine.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ray_xr.report.results import (
    BASELINE, RECORD_KEYS, ROBUSTNESS_COLUMNS, cell_order, first_seen, load_results,
    robustness_rows, sweep_source_language, target_metrics,
)
from ray_xr.stages import write_text

_TABLE_WIDTH = 12  # more columns than this: one table per target
_STD_OF = {"mean": "std", "drop": "drop_std", "source_mean": "source_std"}
_LANGUAGE_NAMES = {"en": "English"}
_MISSING = "–"


def _columns(rows: Sequence[dict]) -> list[tuple[str, str, float, str]]:
    """(target, noise, level, label) per table column. Clean comes first: once per target when
    every kind's clean cells agree (they are one evaluation), else within each noise kind."""
    targets = first_seen(r["target"] for r in rows)
    noises = first_seen(r["noise"] for r in rows)
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
    intermediates = first_seen(r["intermediate"] for r in rows)
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
    targets = first_seen(r["target"] for r in records)
    others = {t: sorted({r["language"] for r in records if r["target"] == t} - {source_language})
              for t in targets}
    if len({tuple(langs) for langs in others.values()}) == 1:
        langs = others[targets[0]]
        listed = f" ({', '.join(langs)})" if len(langs) <= 12 else ""
        return f"the {len(langs)} non-{source} target languages{listed}"
    counts = "; ".join(f"{t}: {len(langs)}" for t, langs in others.items())
    return f"the non-{source} target languages of each task ({counts})"


def _description(records: Sequence[dict], columns: list, source_language: str) -> str:
    metrics = target_metrics(records)
    if len(set(metrics.values())) == 1:
        metric = next(iter(metrics.values()))
    else:
        metric = "score (" + "; ".join(f"{t}: {m}" for t, m in metrics.items()) + ")"
    seeds = first_seen(r["seed"] for r in records)
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
    attacked = first_seen(r["noise"] for r in records if r.get("attack_success_rate") is not None)
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
    targets = first_seen(c[0] for c in columns)
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
    extras = first_seen(key for r in records for key in r if key not in RECORD_KEYS)
    order = cell_order(records)

    def sort_key(r: dict) -> tuple:
        seed = r["seed"]
        seed_key = (1, 0, seed) if isinstance(seed, str) else (0, seed, "")
        rank = order(r["intermediate"], r["target"], r["noise"], float(r["level"]))
        return rank + (seed_key, r["language"])

    return _csv_text(RECORD_KEYS + tuple(extras), sorted(records, key=sort_key), rounded=False)


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
        source_language = sweep_source_language(run_dir)
    if records is None:
        records = load_results(run_dir)
    rows = robustness_rows(records, source_language)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "robustness.csv", _csv_text(ROBUSTNESS_COLUMNS, rows, rounded=True))
    write_text(out / "per_language.csv", _per_language_text(records))
    # The markdown goes last: once it is there, the CSVs beside it match it.
    markdown = out / "robustness.md"
    name = run_name or run_dir.resolve().name
    write_text(markdown, _render(records, rows, name, source_language))
    return markdown
