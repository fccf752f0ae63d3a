"""robustness.tex: booktabs tables ready for a paper (needs \\usepackage{booktabs}).

One table per target (rows: intermediate tasks; columns: clean and each noise level; cells:
mean, ± std over seeds when several, and the 95% interval underneath as [low, high]), then
the comparisons. $^\\uparrow$ / $^\\downarrow$ mark a score significantly above / below the
baseline after Holm's correction; nothing is bold.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from ray_xr.report.results import first_seen
from ray_xr.report.sections import claim, level_label

_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def escape(text) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _score(row: dict | None) -> str:
    if row is None or row["mean"] is None:
        return "--"
    text = f"{row['mean']:.1f}"
    if row.get("std") is not None:
        text += rf" \pm {row['std']:.1f}"
    if row.get("gain_p_holm") is not None and row["gain_p_holm"] < 0.05:
        text += r"^{\uparrow}" if row["gain"] > 0 else r"^{\downarrow}"
    if row.get("ci_low") is not None:
        text += rf"\ \scriptstyle[{row['ci_low']:.1f},\,{row['ci_high']:.1f}]"
    return f"${text}$"


def _target_table(rows: Sequence[dict], target: str, name: str, found) -> str:
    mine = [r for r in rows if r["target"] == target]
    points = first_seen((r["noise"], r["level"]) for r in mine if r["level"] > 0)
    columns = [(first_seen(r["noise"] for r in mine)[0], 0.0)] + points
    index = {(r["intermediate"], r["noise"], r["level"]): r for r in mine}
    clean = {(r["intermediate"], 0.0) : r for r in mine if r["level"] == 0}
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule",
             "Intermediate & " + " & ".join(escape(level_label(n, lv)) for n, lv in columns) + r" \\",
             r"\midrule"]
    for model in first_seen(r["intermediate"] for r in mine):
        cells = [_score(clean.get((model, 0.0)) if lv == 0 else index.get((model, n, lv))) for n, lv in columns]
        lines.append(escape(model) + " & " + " & ".join(cells) + r" \\")
    metric = escape(mine[0]["metric"])
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{escape(name)}: {escape(target)} ({metric}, 0--100), mean over the non-source "
              r"languages; 95\% intervals in brackets; $^{\uparrow}$/$^{\downarrow}$: significantly "
              rf"above/below \texttt{{none}} after Holm's correction. {_claim(found)}}}",
              rf"\label{{tab:{escape(target)}}}", r"\end{table}"]
    return "\n".join(lines)


def _comparisons(found) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{lllrrrr}", r"\toprule",
             r"$a - b$ & target & level & diff & 95\% CI & $p_\mathrm{Holm}$ & MDD \\", r"\midrule"]
    for r in found.comparisons:
        mark = r"$^{*}$" if r["significant"] else ""
        mdd = "--" if r["mdd"] is None else f"{r['mdd']:.1f}"
        lines.append(rf"{escape(r['a'])} $-$ {escape(r['b'])} & {escape(r['target'])} & "
                     rf"{escape(level_label(r['noise'], r['level']))} & ${r['diff']:+.1f}${mark} & "
                     rf"$[{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]$ & {r['p_holm']:.3f} & {mdd} \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{Comparisons (points). $^{*}$: significant at 5\% after Holm's correction over "
              rf"all rows. MDD: minimum detectable difference at 80\% power. {_claim(found)}}}",
              r"\label{tab:comparisons}", r"\end{table}"]
    return "\n".join(lines)


def _claim(found) -> str:
    """sections.claim, its `commands` in typewriter type."""
    return re.sub(r"`([^`]*)`", r"\\texttt{\1}", escape(claim(found))) if found.comparisons else ""


def render(rows: Sequence[dict], found, name: str) -> str:
    parts = ["% ray-xr robustness tables; \\usepackage{booktabs}"]
    parts += [_target_table(rows, t, name, found) for t in first_seen(r["target"] for r in rows)]
    if found.comparisons:
        parts.append(_comparisons(found))
    return "\n\n".join(parts) + "\n"
