"""The statistical sections of robustness.md: the headline, robustness per curve (normalised
AUC) and the comparisons of intermediate tasks with intervals, p-values and the minimum
detectable difference."""
from __future__ import annotations

from collections.abc import Sequence

from ray_xr.report.compare import RECIPE
from ray_xr.report.results import first_seen, level_label


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _table(header: Sequence[str], lines: list[list[str]], align: Sequence[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(out + ["| " + " | ".join(_escape(c) for c in line) + " |" for line in lines])


def claim(found) -> str:
    """What the marks and p-values of the report are about, in words: the intermediate tasks (a
    test over training runs) or, with one training run per task, these trained models."""
    tests = {r["test"] for r in list(found.comparisons) + list(found.headline)}
    seeds = sorted({r["seeds"] for r in list(found.comparisons) + list(found.headline) if r["test"] == RECIPE})
    recipe = (f"Marks and p-values test the intermediate tasks: the unit is the training run ({_seeds(seeds)} per "
              "task), and the between-seed variance and the test examples' variance both enter the standard error "
              "(t test, Welch's degrees of freedom; its 95% interval and p agree).")
    models = ("With one training run per task, marks and p-values are about these trained models (paired "
              "permutation test over test examples), not about the intermediate tasks: another seed can move a score "
              "by more than these intervals. `ray-xr plan SWEEP --power` says how many seeds a stated difference "
              "needs.")
    if tests == {RECIPE}:
        return recipe
    if RECIPE not in tests:
        return models
    return f"{recipe} Where a task has a single run: {models[0].lower()}{models[1:]}"


def _seeds(counts: list[int]) -> str:
    if not counts:
        return "two seeds or more"
    return f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} seeds"


def headline(found) -> list[str]:
    lines = [f"- {entry['text']}." for entry in found.headline]
    return ["## Headline",
            "Which intermediate task makes transfer most robust? Per target and noise kind, two answers: the task "
            "best under noise in absolute terms (the mean score over the levels: the area under its score-versus-"
            "level curve over the level range) and the task that keeps the largest share of its clean score "
            "(normalised AUC: 1 = no loss), each against the runner-up (Holm over the headline's tests). "
            + claim(found),
            "\n".join(lines)]


def robustness(rows: Sequence[dict]) -> list[str]:
    """Both robustness measures per intermediate task and curve (target x noise kind)."""
    curves = first_seen((r["target"], r["noise"]) for r in rows if r.get("auc") is not None)
    if not curves:
        return []
    index = {(r["intermediate"], r["target"], r["noise"]): r for r in rows if r.get("auc") is not None}
    lines = []
    for name in first_seen(r["intermediate"] for r in rows):
        line = [name]
        for target, noise in curves:
            r = index.get((name, target, noise))
            line += (["–", "–"] if r is None else
                     [f"{r['mean_score']:.1f} [{r['mean_score_ci_low']:.1f}, {r['mean_score_ci_high']:.1f}]",
                      f"{r['auc']:.3f} [{r['auc_ci_low']:.3f}, {r['auc_ci_high']:.3f}]"])
        lines.append(line)
    header = ["Intermediate task"] + [f"{t} {n} {what}" for t, n in curves for what in ("mean score", "AUC")]
    return ["## Robustness",
            "Absolute: the mean score over the noise levels (the area under score versus level divided by the level "
            "range, points); relative: that area over the clean score times the level range (normalised AUC, 1 = no "
            "loss at any level). Each per training run, then the mean over seeds, with its 95% interval. A task that "
            "starts low can keep a large share of its clean score: read the two together.",
            _table(header, lines, [":---"] + ["---:"] * 2 * len(curves))]


def _p(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def df_text(row: dict) -> str:
    """A t test's degrees of freedom (∞: the example variance alone), – for the permutation test."""
    if row["test"] != RECIPE:
        return "–"
    return "∞" if row["df"] is None else f"{row['df']:.1f}"


def comparisons(found) -> list[str]:
    lines = []
    for r in found.comparisons:
        mark = ("▲" if r["diff"] > 0 else "▼") if r["significant"] else ""
        lines.append([f"{r['a']} − {r['b']}", r["target"], level_label(r["noise"], r["level"]),
                      f"{r['diff']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}] {mark}".rstrip(),
                      _p(r["p"]), _p(r["p_holm"]), df_text(r), "–" if r["mdd"] is None else f"{r['mdd']:.1f}",
                      _p(r["p_models"]),
                      str(r["n_examples"]), str(r["seeds"])])
    significant = sum(r["significant"] for r in found.comparisons)
    verdict = (f"{significant} of {len(found.comparisons)} differences are significant after Holm's correction."
               if significant else f"None of the {len(found.comparisons)} differences is significant after "
                                   "Holm's correction.")
    return ["## Comparisons",
            "Score of a minus score of b in points (mean over non-source languages and seeds) with its 95% interval "
            f"and p, Holm-corrected over all rows (▲ / ▼: significant at 5%). {claim(found)} {verdict} df: the t "
            "test's degrees of freedom (– where the test is the permutation test). MDD: the minimum detectable "
            "difference, the true difference found with 80% power at Holm's strictest level. p (these models): the "
            "paired permutation test over test examples, which holds the trained models fixed: whether these "
            "checkpoints differ, not the tasks.",
            _table(["a − b", "target", "level", "diff [95% CI]", "p", "Holm p", "df", "MDD", "p (these models)",
                    "examples", "seeds"], lines, [":---", ":---", ":---"] + ["---:"] * 8)]


def per_language(records: Sequence[dict], columns: Sequence[tuple], intermediates: Sequence[str],
                 source_language: str) -> list[str]:
    """One table per target: a row per intermediate task and condition (the score table's
    columns), a column per language, the source language first; each cell the mean over seeds."""
    values: dict[tuple, list[float]] = {}
    for r in records:
        key = (r["intermediate"], r["target"], r["noise"], float(r["level"]), r["language"])
        values.setdefault(key, []).append(r["value"])
    parts = ["## Per language",
             f"Test score in each language (mean over seeds); the tables above average the languages other than"
             f" the source ({source_language})."]
    for target in first_seen(c[0] for c in columns):
        langs = sorted({r["language"] for r in records if r["target"] == target},
                       key=lambda lang: (lang != source_language, lang))
        lines = []
        for name in intermediates:
            for _, noise, level, label in (c for c in columns if c[0] == target):
                found = [values.get((name, target, noise, level, lang)) for lang in langs]
                if any(found):
                    lines.append([name, label.removeprefix(f"{target} ")]
                                 + [f"{sum(v) / len(v):.1f}" if v else "–" for v in found])
        header = ["Intermediate task", "condition"] + [f"{lang} (source)" if lang == source_language else lang
                                                       for lang in langs]
        parts += [f"### {target}", _table(header, lines, [":---", ":---"] + ["---:"] * len(langs))]
    return parts
