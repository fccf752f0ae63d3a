"""Paired comparisons of intermediate tasks and the headline, from analysis.Panel.

For every pair of intermediate tasks (a, b) of a target and every point (noise kind, level):
diff = score(a) - score(b) in points (each score the table cell: mean over non-source
languages, then seeds), its 95% paired-bootstrap interval, the permutation p-value, and the
minimum detectable difference at this sweep's size. Pairs: each task against the baseline
`none` (a = the task: the gain), then every two other tasks in sweep order (nli vs ner).
Holm's correction runs over every row of the comparisons table (all pairs, targets, kinds
and levels; the clean point once per target), so a mark in any table of the report means
significant at 5% family-wise.

The headline asks the question per target and noise kind: which task's curve keeps most of
its clean score (normalised AUC, stats.normalised_auc), and does it beat the runner-up
significantly (the same permutation test on the AUC difference, Holm over the headlines)?
"""
from __future__ import annotations

import numpy as np

from ray_xr.report import stats
from ray_xr.report.analysis import N_PERM, Panel, cell_scores, curve, measures
from ray_xr.report.results import BASELINE, first_seen

ALPHA = 0.05
COMPARISON_KEYS = ("a", "b", "target", "noise", "level", "diff", "ci_low", "ci_high", "p", "p_holm",
                   "n_examples", "seeds")
COMPARISON_COLUMNS = COMPARISON_KEYS + ("mdd", "significant")


def pairs(models: list[str]) -> list[tuple[str, str]]:
    """(a, b): each task against the baseline, then the other tasks two by two, in order."""
    others = [m for m in models if m != BASELINE]
    out = [(m, BASELINE) for m in others] if BASELINE in models else []
    return out + [(x, y) for i, x in enumerate(others) for y in others[i + 1:]]


def _permuted_scores(panel: Panel, a: str, b: str, n_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Permuted table cells of a and b, [replicate, point]: per language, each example's
    outcomes swapped between a and b with probability 1/2, at every seed and level at once."""
    shape = (n_perm, len(panel.seeds), len(panel.points), len(panel.languages))
    out_a, out_b = np.full(shape, np.nan), np.full(shape, np.nan)
    for li in panel.others:
        lang = panel.languages[li]
        cols = panel.columns[lang]
        units = [(s, p) for (m, s, p) in cols if m == a and (b, s, p) in cols]
        if not units:
            continue
        a_num = np.stack([cols[a, s, p][0] for s, p in units], 1)
        a_den = np.stack([cols[a, s, p][1] for s, p in units], 1)
        d_num = np.stack([cols[b, s, p][0] for s, p in units], 1) - a_num
        d_den = np.stack([cols[b, s, p][1] for s, p in units], 1) - a_den
        moving = np.any((d_num != 0) | (d_den != 0), axis=1)  # agreeing examples move nothing
        d_num, d_den = d_num[moving], d_den[moving]
        base_a = (a_num.sum(0), a_den.sum(0))
        base_b = (base_a[0] + d_num.sum(0), base_a[1] + d_den.sum(0))
        rng = stats.rng_for("perm", panel.target, a, b, lang)
        shifted = [(f @ d_num, f @ d_den) for f in stats.flip_masks(rng, len(d_num), n_perm)]
        move_num = np.concatenate([s[0] for s in shifted]).reshape(n_perm, len(units))
        move_den = np.concatenate([s[1] for s in shifted]).reshape(n_perm, len(units))
        score_a = stats.ratio(base_a[0] + move_num, base_a[1] + move_den)
        score_b = stats.ratio(base_b[0] - move_num, base_b[1] - move_den)
        for k, (s, p) in enumerate(units):
            si, pi = panel.seeds.index(s), panel.points.index(p)
            out_a[:, si, pi, li], out_b[:, si, pi, li] = score_a[:, k], score_b[:, k]

    def cells(values):  # as cell_scores, for one model
        return cell_scores(values[:, None], panel)[:, 0]

    return cells(out_a), cells(out_b)


def compare(panel: Panel, a: str, b: str, n_perm: int = N_PERM) -> tuple[list[dict], dict]:
    """Rows (one per point) of a minus b, and the AUC difference per noise kind."""
    ai, bi = panel.models.index(a), panel.models.index(b)
    est, boot = cell_scores(panel.estimate, panel), cell_scores(panel.boot_seeds, panel)
    perm_a, perm_b = _permuted_scores(panel, a, b, n_perm)
    diff, boot_diff = est[ai] - est[bi], boot[:, ai] - boot[:, bi]
    p = stats.p_value(perm_a - perm_b, diff)
    seeds = [s for s in panel.seeds if not np.isnan(panel.estimate[ai, panel.seeds.index(s)]).all()
             and not np.isnan(panel.estimate[bi, panel.seeds.index(s)]).all()]
    n = sum(panel.n_examples[panel.languages[i]] for i in panel.others)
    rows = []
    for pi, (noise, level) in enumerate(panel.points):
        if np.isnan(diff[pi]):
            continue
        low, high = stats.percentile_ci(boot_diff[:, pi])
        rows.append({"a": a, "b": b, "target": panel.target, "noise": noise, "level": level,
                     "diff": float(diff[pi]), "ci_low": float(low), "ci_high": float(high), "p": float(p[pi]),
                     "n_examples": n, "seeds": len(seeds),
                     "mdd": float(stats.minimum_detectable_difference(np.nanstd(boot_diff[:, pi], ddof=1)))})
    aucs = {}
    for noise in first_seen(n for n, _ in panel.points):
        levels, idx = curve(panel, noise)
        if len(levels) < 2 or levels[0] != 0 or np.isnan(diff[idx]).any():
            continue
        auc_diff = stats.normalised_auc(levels, est[ai, idx]) - stats.normalised_auc(levels, est[bi, idx])
        auc_boot = stats.normalised_auc(levels, boot[:, ai][:, idx]) - stats.normalised_auc(levels, boot[:, bi][:, idx])
        auc_perm = stats.normalised_auc(levels, perm_a[:, idx]) - stats.normalised_auc(levels, perm_b[:, idx])
        low, high = stats.percentile_ci(auc_boot)
        aucs[noise] = {"diff": float(auc_diff), "ci_low": float(low), "ci_high": float(high),
                       "p": float(stats.p_value(auc_perm[:, None], [auc_diff])[0])}
    return rows, aucs


def comparisons(panels: list[Panel], n_perm: int = N_PERM) -> tuple[list[dict], list[dict]]:
    """The comparisons table (Holm-corrected over all its rows) and the headline entries."""
    rows, tests = [], []
    for panel in panels:
        first_clean = next(((n, lv) for n, lv in panel.points if lv == 0), None)
        for a, b in pairs(panel.models):
            mine, aucs = compare(panel, a, b, n_perm)
            rows += [r for r in mine if r["level"] or (r["noise"], r["level"]) == first_clean]
            tests.append((panel, a, b, aucs))
    for row, adjusted in zip(rows, stats.holm([r["p"] for r in rows])):
        row["p_holm"] = adjusted
        row["significant"] = adjusted < ALPHA
    return [{k: r[k] for k in COMPARISON_COLUMNS} for r in rows], headline(panels, tests)


def headline(panels: list[Panel], tests: list) -> list[dict]:
    """Per target and noise kind: the most robust task (highest normalised AUC) against the
    runner-up, with the AUC difference's interval and Holm-corrected p-value."""
    found = {(panel.target, a, b): aucs for panel, a, b, aucs in tests}
    out = []
    for panel in panels:
        table = measures(panel)
        for noise in first_seen(n for n, _ in panel.points):
            aucs = {m: table[m, noise, 0.0]["auc"] for m in panel.models
                    if (m, noise, 0.0) in table and table[m, noise, 0.0]["auc"] is not None}
            if len(aucs) < 2:
                continue
            best, second = sorted(aucs, key=lambda m: -aucs[m])[:2]
            test = found.get((panel.target, best, second), {}).get(noise)
            sign = 1
            if test is None:
                test, sign = found[panel.target, second, best][noise], -1
            low, high = sorted((sign * test["ci_low"], sign * test["ci_high"]))
            out.append({"target": panel.target, "noise": noise, "most_robust": best, "runner_up": second,
                        "measure": "normalised AUC of score versus level", "auc": aucs,
                        "diff": sign * test["diff"], "ci_low": low, "ci_high": high, "p": test["p"]})
    for entry, adjusted in zip(out, stats.holm([e["p"] for e in out])):
        entry["p_holm"] = adjusted
        entry["significant"] = adjusted < ALPHA
        verdict = "significantly" if entry["significant"] else "not significantly"
        entry["text"] = (f"{entry['target']}, {entry['noise']} noise: {entry['most_robust']} keeps most of its "
                         f"clean score (AUC {aucs_text(entry['auc'])}), {verdict} more than {entry['runner_up']} "
                         f"(difference {entry['diff']:+.3f}, 95% CI [{entry['ci_low']:+.3f}, {entry['ci_high']:+.3f}], "
                         f"Holm p = {entry['p_holm']:.3g})")
    return out


def aucs_text(aucs: dict[str, float]) -> str:
    return ", ".join(f"{m} {v:.3f}" for m, v in aucs.items())
