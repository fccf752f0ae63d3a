"""Comparisons of intermediate tasks and the headline, from analysis.Panel.

For every pair of intermediate tasks (a, b) of a target and every point (noise kind, level):
diff = score(a) - score(b) in points (each score the table cell: mean over non-source
languages, then seeds), its 95% interval, p, and the minimum detectable difference. Pairs:
each task against the baseline `none` (a = the task: the gain), then every two other tasks in
sweep order (nli vs ner).

Which test: with at least two seeds in each arm, the test over training runs
(stats.recipe_test, test "recipe_t"): a claim about the intermediate tasks, its interval and p
agreeing by construction. With fewer, the only test there is conditions on the trained models
(test "checkpoint_permutation": paired permutation over test examples, percentile bootstrap
interval): a claim about these checkpoints, which every table says in words. The permutation
test is also computed beside the recipe test (p_models): whether these trained models differ.
Holm's correction runs over every row of the same test (all pairs, targets, kinds and levels;
the clean point once per target), so a mark in any table means significant at 5% family-wise.

The headline, per target and noise kind, answers twice: which task is best under noise in
absolute terms (the mean score over the levels, the area under its curve) and which keeps most
of its clean score (normalised AUC), each against its runner-up with its test (Holm over the
headline's tests). A task that keeps most of its clean score while significantly below the
baseline at every level is said to be so: it starts low and stays low.
"""
from __future__ import annotations

import numpy as np

from ray_xr.report import stats
from ray_xr.report.analysis import N_PERM, Panel, curve, curves, draws, seed_cells
from ray_xr.report.results import BASELINE, level_label

ALPHA = stats.ALPHA
RECIPE, MODELS = "recipe_t", "checkpoint_permutation"
TESTS = {RECIPE: "t test over training runs (between-seed and test-example variance, Welch df)",
         MODELS: "these trained models: paired permutation test over test examples"}
COMPARISON_KEYS = ("a", "b", "target", "noise", "level", "diff", "ci_low", "ci_high", "p", "p_holm",
                   "n_examples", "seeds", "significant", "test", "df")
COMPARISON_COLUMNS = COMPARISON_KEYS + ("se", "mdd", "p_models", "p_models_holm")
HEADLINE_MEASURES = {"mean_score": "best under noise (mean score over the levels, points)",
                     "auc": "keeps most of its clean score (normalised AUC)"}


def pairs(models: list[str]) -> list[tuple[str, str]]:
    """(a, b): each task against the baseline, then the other tasks two by two, in order."""
    others = [m for m in models if m != BASELINE]
    out = [(m, BASELINE) for m in others] if BASELINE in models else []
    return out + [(x, y) for i, x in enumerate(others) for y in others[i + 1:]]


def _permuted(panel: Panel, a: str, b: str, n_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Permuted per-run cells of a and b, [replicate, seed, point]: per item, its outcomes
    swapped between a and b with probability 1/2 at every seed and level at once (and in every
    language when the test sets are translations of each other). Units (seed, point) that only
    one of the two has stay NaN."""
    shape = (n_perm, len(panel.seeds), len(panel.points), len(panel.languages))
    out_a, out_b = np.full(shape, np.nan), np.full(shape, np.nan)
    parts, moving = {}, {}
    for li in panel.others:
        cols = panel.columns[panel.languages[li]]
        units = [(s, p) for (m, s, p) in cols if m == a and (b, s, p) in cols]
        if not units:
            continue
        a_num, a_den = (np.stack([cols[a, s, p][k] for s, p in units], 1) for k in (0, 1))
        d_num, d_den = (np.stack([cols[b, s, p][k] for s, p in units], 1) - x for k, x in ((0, a_num), (1, a_den)))
        # an example both tasks score alike in every unit moves nothing when swapped: leaving it
        # out changes no statistic and saves most of the work
        keep = np.flatnonzero(np.any((d_num != 0) | (d_den != 0), axis=1))
        moving[panel.languages[li]] = keep
        parts[li] = {"units": units, "base_a": (a_num.sum(0), a_den.sum(0)), "delta": (d_num[keep], d_den[keep]),
                     "moved": []}
    for block in draws(panel, stats.flip_masks, n_perm, "perm", panel.target, a, b, keep=moving):
        for li, part in parts.items():
            flips = block[panel.languages[li]]
            part["moved"].append([np.dot(flips, d.astype(np.float32)) for d in part["delta"]])
    for li, part in parts.items():
        move_num, move_den = (np.concatenate([m[k] for m in part["moved"]]).astype(float) for k in (0, 1))
        (base_num, base_den), (d_num, d_den) = part["base_a"], part["delta"]
        score_a = stats.ratio(base_num + move_num, base_den + move_den)
        score_b = stats.ratio(base_num + d_num.sum(0) - move_num, base_den + d_den.sum(0) - move_den)
        for k, (s, p) in enumerate(part["units"]):
            si, pi = panel.seeds.index(s), panel.points.index(p)
            out_a[:, si, pi, li], out_b[:, si, pi, li] = score_a[:, k], score_b[:, k]
    return seed_cells(out_a, panel), seed_cells(out_b, panel)


def _test(a, a_boot, b, b_boot, a_perm, b_perm) -> dict[str, np.ndarray]:
    """Both tests of a minus b on per-run statistics ([seed, ...], replicates [rep, seed, ...]),
    and which one applies: the recipe test with two seeds or more in each arm, else the
    permutation test of these trained models (on the runs both arms have)."""
    recipe = stats.recipe_test(a, a_boot, b, b_boot)
    both = ~np.isnan(a) & ~np.isnan(b)

    def mean_diff(x, y, axis):
        return stats.nanmean(np.where(both, x, np.nan), axis) - stats.nanmean(np.where(both, y, np.nan), axis)

    observed = mean_diff(a, b, 0)
    p_models = stats.p_value(stats.nanmean(a_perm, 1) - stats.nanmean(b_perm, 1), observed)
    boot = mean_diff(a_boot, b_boot, 1)
    low, high = stats.percentile_ci(boot)
    use = (recipe["n_a"] >= 2) & (recipe["n_b"] >= 2)
    return {"test": np.where(use, RECIPE, MODELS), "diff": np.where(use, recipe["diff"], observed),
            "ci_low": np.where(use, recipe["ci_low"], low), "ci_high": np.where(use, recipe["ci_high"], high),
            "p": np.where(use, recipe["p"], p_models),
            "se": np.where(use, recipe["se"], np.sqrt(stats.nanvar(boot, 0))),
            "df": np.where(use, recipe["df"], np.nan), "p_models": p_models,
            "seeds": np.minimum(recipe["n_a"], recipe["n_b"])}


def compare(panel: Panel, a: str, b: str, n_perm: int = N_PERM) -> tuple[list[dict], dict]:
    """Rows (one per point) of a minus b, and the tests of the curve measures per (measure, kind)."""
    ai, bi = panel.models.index(a), panel.models.index(b)
    est, boot = seed_cells(panel.estimate, panel), seed_cells(panel.boot, panel)
    perm_a, perm_b = _permuted(panel, a, b, n_perm)
    args = (est[ai], boot[:, ai], est[bi], boot[:, bi], perm_a, perm_b)
    found = _test(*args)
    n = sum(panel.n_examples[panel.languages[i]] for i in panel.others)
    rows = []
    for pi, (noise, level) in enumerate(panel.points):
        if np.isnan(found["diff"][pi]):
            continue
        row = {"a": a, "b": b, "target": panel.target, "noise": noise, "level": level, "n_examples": n}
        rows.append(row | {k: _plain(v[pi]) for k, v in found.items()})
    measured = [curves(panel, x) for x in args]
    tests = {key: {k: _plain(v) for k, v in _test(*(m[key] for m in measured)).items()} for key in measured[0]}
    return rows, {key: t for key, t in tests.items() if t["diff"] is not None}


def _plain(value):
    """A JSON value: a float (None for NaN or an infinite df), int or str."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float):
        return None if not np.isfinite(value) else value
    return value


def corrected(entries: list[dict], p: str = "p", into: str = "p_holm") -> None:
    """Holm's correction over the entries of each test, in place; `significant` from it."""
    for test in TESTS:
        mine = [e for e in entries if e["test"] == test]
        for entry, adjusted in zip(mine, stats.holm([e[p] for e in mine])):
            entry[into] = adjusted
            if into == "p_holm":
                entry["significant"] = adjusted < ALPHA
                entry["mdd"] = _plain(stats.minimum_detectable_difference(
                    entry["se"], np.inf if entry["df"] is None else entry["df"], len(mine)))


def comparisons(panels: list[Panel], n_perm: int = N_PERM) -> tuple[list[dict], list[dict]]:
    """The comparisons table (Holm-corrected over all its rows of each test) and the headline."""
    rows, tests = [], []
    for panel in panels:
        first_clean = next(((n, lv) for n, lv in panel.points if lv == 0), None)
        for a, b in pairs(panel.models):
            mine, curve_tests = compare(panel, a, b, n_perm)
            rows += [r for r in mine if r["level"] or (r["noise"], r["level"]) == first_clean]
            tests.append((panel, a, b, curve_tests))
    corrected(rows)
    for row, adjusted in zip(rows, stats.holm([r["p_models"] for r in rows])):
        row["p_models_holm"] = adjusted
    return [{k: r[k] for k in COMPARISON_COLUMNS} for r in rows], headline(panels, tests, rows)


def headline(panels: list[Panel], tests: list, rows: list[dict]) -> list[dict]:
    """Per target, noise kind and HEADLINE_MEASURES measure: the best task against the runner-up,
    with the difference's interval and Holm-corrected p (over the headline's tests)."""
    found = {(panel.target, a, b): t for panel, a, b, t in tests}
    out = []
    for panel in panels:
        per_run = curves(panel, seed_cells(panel.estimate, panel))  # (measure, kind) -> [model, seed]
        for (measure, noise), values in per_run.items():
            arms = {m: float(v) for m, v in zip(panel.models, stats.nanmean(values, 1)) if np.isfinite(v)}
            if len(arms) < 2:
                continue
            best, second = sorted(arms, key=lambda m: -arms[m])[:2]
            test, sign = found.get((panel.target, best, second), {}).get((measure, noise)), 1
            if test is None:
                test, sign = found[panel.target, second, best][measure, noise], -1
            low, high = sorted((sign * test["ci_low"], sign * test["ci_high"]))
            out.append({"target": panel.target, "noise": noise, "measure": measure, "levels": curve(panel, noise)[0],
                        "description": HEADLINE_MEASURES[measure], "best": best, "runner_up": second, "values": arms,
                        "diff": sign * test["diff"] + 0.0, "ci_low": low, "ci_high": high, "p": test["p"],
                        "se": test["se"],
                        "df": test["df"], "test": test["test"], "seeds": test["seeds"],
                        "below_baseline": below_baseline(rows, panel.target, noise, best)})
    corrected(out)
    for entry in out:
        entry.pop("mdd")
        entry["text"] = _text(entry)
    return out


def below_baseline(rows: list[dict], target: str, noise: str, model: str) -> dict:
    """Whether `model` scores below the baseline at every level of the kind, clean included
    (`everywhere`), and the levels where it is significantly below (`significantly`)."""
    mine = sorted((r for r in rows if (r["a"], r["b"], r["target"]) == (model, BASELINE, target)
                   and (r["noise"] == noise or r["level"] == 0)), key=lambda r: r["level"])
    everywhere = bool(mine) and mine[0]["level"] == 0 and all(r["diff"] < 0 for r in mine)
    return {"everywhere": everywhere, "significantly": [r["level"] for r in mine if r["significant"] and r["diff"] < 0]}


def _signed(x: float, digits: int) -> str:
    # rounded first: a difference of -1e-17 between identical scores prints +0.000, not -0.000
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def _text(e: dict) -> str:
    digits = 1 if e["measure"] == "mean_score" else 3
    values = ", ".join(f"{m} {v:.{digits}f}" for m, v in e["values"].items())
    verdict = "significantly" if e["significant"] else "not significantly"
    text = (f"{e['target']}, {e['noise']} noise, {e['description']}: {e['best']} ({values}), {verdict} "
            f"{'above' if e['measure'] == 'mean_score' else 'more than'} {e['runner_up']} (difference "
            f"{_signed(e['diff'], digits)}, 95% CI [{_signed(e['ci_low'], digits)}, {_signed(e['ci_high'], digits)}], "
            f"Holm p = {e['p_holm']:.3g})")
    below = e["below_baseline"]
    if below["everywhere"]:
        levels = below["significantly"]
        where = ("significantly at every level" if len(levels) == len(e["levels"]) else
                 f"significantly at {', '.join(level_label(e['noise'], lv) for lv in levels)}" if levels else
                 "not significantly")
        text += (f"; but {e['best']} scores below {BASELINE} at every level ({where}): it keeps a large share of a"
                 " lower score")
    if e["test"] == MODELS:
        # one seed, or a measure some seeds leave undefined (a normalised AUC of a clean score of 0)
        runs = "one training run" if e["seeds"] == 1 else f"{int(e['seeds'])} training runs"
        text += f"; {runs} per task with a value: about these trained models, not the intermediate tasks"
    return text
