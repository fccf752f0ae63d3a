"""The statistical sections of robustness.md: the headline, robustness per curve (normalised
AUC) and the comparisons of intermediate tasks with intervals, p-values and the minimum
detectable difference."""
from __future__ import annotations

from collections.abc import Sequence

from ray_xr.report.results import first_seen


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _table(header: Sequence[str], lines: list[list[str]], align: Sequence[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(out + ["| " + " | ".join(_escape(c) for c in line) + " |" for line in lines])


def level_label(noise: str, level: float) -> str:
    return "clean" if level == 0 else f"{noise} {level:g}"


def headline(found) -> list[str]:
    lines = [f"- {entry['text']}." for entry in found.headline]
    return ["## Headline",
            "Which intermediate task makes transfer most robust? Per target and noise kind, the task whose "
            "score-versus-level curve keeps the largest share of its clean score (normalised AUC: 1 = no loss), "
            "against the runner-up (paired permutation test on the AUC difference, Holm over the headlines):",
            "\n".join(lines)]


def robustness(rows: Sequence[dict]) -> list[str]:
    """Normalised AUC per intermediate task and curve (target x noise kind)."""
    curves = first_seen((r["target"], r["noise"]) for r in rows if r.get("auc") is not None)
    if not curves:
        return []
    index = {(r["intermediate"], r["target"], r["noise"]): r for r in rows if r.get("auc") is not None}
    lines = []
    for name in first_seen(r["intermediate"] for r in rows):
        line = [name]
        for target, noise in curves:
            r = index.get((name, target, noise))
            line.append("–" if r is None else f"{r['auc']:.3f} [{r['auc_ci_low']:.3f}, {r['auc_ci_high']:.3f}]")
        lines.append(line)
    header = ["Intermediate task"] + [f"{t} {n}" for t, n in curves]
    return ["## Robustness (normalised AUC)",
            "Area under score versus noise level divided by the clean score times the level range, with its "
            "95% bootstrap interval: 1 means no loss at any level; larger is more robust.",
            _table(header, lines, [":---"] + ["---:"] * len(curves))]


def comparisons(found) -> list[str]:
    lines = []
    for r in found.comparisons:
        mark = ("▲" if r["diff"] > 0 else "▼") if r["significant"] else ""
        lines.append([f"{r['a']} − {r['b']}", r["target"], level_label(r["noise"], r["level"]),
                      f"{r['diff']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}] {mark}".rstrip(),
                      f"{r['p']:.3g}", f"{r['p_holm']:.3g}", f"{r['mdd']:.1f}", str(r["n_examples"]), str(r["seeds"])])
    significant = sum(r["significant"] for r in found.comparisons)
    verdict = (f"{significant} of {len(found.comparisons)} differences are significant after Holm's correction."
               if significant else f"None of the {len(found.comparisons)} differences is significant after "
                                   "Holm's correction.")
    return ["## Comparisons",
            "Score of a minus score of b in points (mean over non-source languages and seeds) with its 95% "
            "paired bootstrap interval; p from a paired permutation test over test examples, Holm-corrected "
            f"over all rows (▲ / ▼: significant at 5%). {verdict} MDD is the minimum detectable difference: "
            "the true difference this sweep finds with 80% power (2.80 standard errors). It shrinks with the "
            "square root of the data: halving it takes four times the test examples (or, when the seeds "
            "dominate the error, four times the seeds).",
            _table(["a − b", "target", "level", "diff [95% CI]", "p", "Holm p", "MDD", "examples", "seeds"],
                   lines, [":---", ":---", ":---"] + ["---:"] * 6)]


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
