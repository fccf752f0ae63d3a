"""Markdown and CSV text of a sweep's robustness report, and write_report, which writes every
report file (the markdown, CSVs, summary.json, LaTeX, plots and report.html).

The files and their columns are specified in ray_xr.report's docstring. No torch or ray:
reports must be rebuildable on any machine.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ray_xr.report import html, plots, provenance, sections, summary, tex
from ray_xr.report.compare import ALPHA, COMPARISON_COLUMNS
from ray_xr.report.summary import LANGUAGE_COLUMNS
from ray_xr.report.results import (
    BASELINE, RECORD_KEYS, ROBUSTNESS_COLUMNS, cell_order, first_seen, in_sweep_order, load_results,
    robustness_rows, sweep_source_language, target_metrics,
)
from ray_xr.stages import write_text

_TABLE_WIDTH = 12  # more columns than this: one table per target
_STD_OF = {"mean": "std", "drop": "drop_std", "source_mean": "source_std"}
_CI_OF = {"mean": ("ci_low", "ci_high"), "drop": ("drop_ci_low", "drop_ci_high"), "auc": ("auc_ci_low", "auc_ci_high")}
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


def _grid(rows: Sequence[dict], columns: list, field: str, marks: Callable | None = None) -> list[list[str]]:
    """Markdown cells per intermediate (baseline first). Nothing is bold for being largest: a
    cell carries a mark only where `marks(row)` finds a significant difference (after Holm)."""
    index = {(r["intermediate"], r["target"], r["noise"], r["level"]): r for r in rows}
    intermediates = first_seen(r["intermediate"] for r in rows)
    grid = [[_escape(name)] for name in intermediates]
    for target, noise, level, _ in columns:
        for line, name in zip(grid, intermediates):
            row = index.get((name, target, noise, level))
            line.append(_cell(row, field) + (marks(row) if marks and row else ""))
    return grid


def _cell(row: dict | None, field: str) -> str:
    if row is None or row[field] is None:
        return _MISSING
    std = row.get(_STD_OF.get(field, ""))
    text = _number(row[field]) + ("" if std is None else f" ± {_number(std)}")
    low, high = row.get(_CI_OF.get(field, ("",))[0]), row.get(_CI_OF.get(field, ("", ""))[1])
    return text if low is None or high is None else f"{text} [{_number(low)}, {_number(high)}]"


def gain_mark(row: dict) -> str:
    """▲ / ▼: significantly above / below the baseline after Holm's correction."""
    if row.get("gain_p_holm") is None or row["gain_p_holm"] >= ALPHA:
        return ""
    return " ▲" if row["gain"] > 0 else " ▼"


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
    if BASELINE in {r["intermediate"] for r in records}:
        sentences.append(f"`{BASELINE}` is the baseline without intermediate training.")
    return " ".join(sentences)


def _statistics_note(rows: Sequence[dict], found) -> str:
    if not any(r.get("ci_low") is not None for r in rows):
        return ("No per-example outcome files were found, so there are no confidence intervals or tests: "
                "differences between rows may be noise.")
    several = any((r.get("seeds") or 0) > 1 for r in rows)
    over = ("training runs (seeds) and test examples; test examples alone for a task with one run" if several
            else "test examples")
    note = f"[low, high] is the 95% interval (over {over})."
    if found is not None and found.comparisons:
        note += (f" ▲ / ▼ mark a score significantly above / below the baseline `{BASELINE}` (Holm-corrected over"
                 f" every comparison of the report, 5% level). {sections.claim(found)}")
    return note + " Nothing is marked for merely being largest."


def render_markdown(records: Sequence[dict], run_name: str, source_language: str = "en") -> str:
    return _render(records, robustness_rows(records, source_language), run_name, source_language)


def _tables(rows: Sequence[dict], columns: list, field: str, marks: Callable | None = None) -> list[str]:
    """One table, or one per target (under a heading) when a single one would be too wide."""
    targets = first_seen(c[0] for c in columns)
    if len(columns) <= _TABLE_WIDTH or len(targets) == 1:
        return [_table("Intermediate task", columns, _grid(rows, columns, field, marks))]
    parts = []
    for target in targets:
        mine = [c for c in columns if c[0] == target]
        parts += [f"### {target}", _table("Intermediate task", mine, _grid(rows, mine, field, marks))]
    return parts


def _render(records: Sequence[dict], rows: list[dict], run_name: str, source_language: str,
            found=None, origin: dict | None = None) -> str:
    """robustness.md; `origin` (provenance.gather) ends it with what a citation needs."""
    title = f"# Robustness: {run_name}"
    if not rows:
        return f"{title}\n\nNo results yet.\n"
    columns = _columns(rows)
    noisy = [c for c in columns if c[2] > 0]
    clean = [c for c in columns if c[2] == 0]
    source = _language_name(source_language)
    parts = [title, _description(records, columns, source_language),
             _statistics_note(rows, found)]
    if found is not None and found.headline:
        parts += sections.headline(found)
    parts += ["## Scores"] + _tables(rows, columns, "mean", gain_mark)
    if noisy:
        parts += ["## Drop under noise",
                  "Clean minus noisy score in points, paired per seed; larger means less robust."]
        parts += _tables(rows, noisy, "drop")
    if found is not None and found.comparisons:
        parts += sections.robustness(rows) + sections.comparisons(found)
    attacked = [c for c in noisy if any(r["attack_success_rate"] is not None for r in rows
                                        if (r["target"], r["noise"], r["level"]) == c[:3])]
    if attacked:
        parts += ["## Attack success rate",
                  "Percentage of the examples a model got right that the greedy character attack"
                  " made it get wrong (mean over languages and seeds); larger means less robust.",
                  _table("Intermediate task", attacked, _grid(rows, attacked, "attack_success_rate"))]
    if any(r["source_mean"] is not None for r in rows if r["level"] == 0):
        parts += [
            f"## Source language ({source})",
            f"Clean {source} test score, excluded from the tables above.",
            _table("Intermediate task", clean, _grid(rows, clean, "source_mean")),
        ]
    parts += sections.per_language(records, columns, first_seen(r["intermediate"] for r in rows), source_language)
    if origin is not None:
        parts += provenance.markdown(origin)
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
    extras = first_seen(key for r in records for key in r if key not in RECORD_KEYS + LANGUAGE_COLUMNS)
    order = cell_order(records)

    def sort_key(r: dict) -> tuple:
        seed = r["seed"]
        seed_key = (1, 0, seed) if isinstance(seed, str) else (0, seed, "")
        rank = order(r["intermediate"], r["target"], r["noise"], float(r["level"]))
        return rank + (seed_key, r["language"])

    header = RECORD_KEYS + LANGUAGE_COLUMNS + tuple(extras)
    return _csv_text(header, sorted(records, key=sort_key), rounded=False)


def write_report(
    run_dir: Path,
    records: Sequence[dict] | None = None,
    run_name: str | None = None,
    source_language: str | None = None,
    final: bool = True,
    progress: dict | None = None,
) -> Path:
    """Write every report file (ray_xr.report's docstring); return robustness.md's path.

    source_language defaults to sweep.json's source_language, else English. `final=False` (the
    live report during a run) leaves the plots out: they cost seconds, the tables milliseconds.
    """
    run_dir = Path(run_dir)
    if source_language is None:
        source_language = sweep_source_language(run_dir)
    if records is None:
        records = load_results(run_dir)
    records = in_sweep_order(records, provenance.sweep_doc(run_dir))
    found = summary.gather(run_dir, records, source_language)
    rows = summary.enrich(robustness_rows(records, source_language), found)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "robustness.csv", _csv_text(ROBUSTNESS_COLUMNS + summary.EXTRA_COLUMNS, rows, rounded=True))
    languages = summary.with_language_intervals(records, found)
    write_text(out / "per_language.csv", _per_language_text(languages))
    write_text(out / "comparisons.csv", _csv_text(COMPARISON_COLUMNS, found.comparisons, rounded=True))
    origin = provenance.gather(run_dir, records)
    write_text(out / "summary.json", json.dumps({**summary.summary(found, rows, progress), "provenance": origin},
                                                indent=1) + "\n")
    name = run_name or origin["sweep"]
    write_text(out / "robustness.tex", tex.render(rows, found, name))
    figures = (plots.write_all(out, rows, found, provenance.sweep_doc(run_dir).get("intermediate"),
                               plots.chance_levels(records)) if final else {})
    markdown = _render(records, rows, name, source_language, found, origin)
    write_text(out / "report.html", html.page(name, rows, languages, found, figures, progress))
    # The markdown goes last: once it is there, the files beside it match it.
    path = out / "robustness.md"
    write_text(path, markdown)
    return path
