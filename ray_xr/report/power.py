"""Power before launch: `ray-xr plan SWEEP --power [--mdd POINTS] [--pilot RUN_DIR] [--cost]`, and
the warning `plan` and `run` give a sweep that compares intermediate tasks with one seed.

The report tests a difference of two intermediate tasks over training runs (report/stats.py):
SE^2 = s_a^2 / n + s_b^2 / n + V_ex, Welch's degrees of freedom, Holm over its m comparisons.
Its minimum detectable difference with n seeds per task is (t_{1-alpha/(2m),df} +
t_.80,df) x SE (Holm's worst case), and the seeds a stated difference needs are the fewest n
that bring it down to that difference. The variances come from:

- a finished pilot run (`--pilot RUN_DIR`, e.g. the sweep run with 2 or 3 seeds): s^2 per task,
  the largest over the points, and V_ex of one run of each task (the average over pairs of
  runs, the largest over the points: an upper bound for the mean of n runs), scaled to the
  sweep's test sizes (V_ex falls as 1/examples);
- or stated defaults: a seed s.d. of DEFAULT_SEED_SD points per table cell (an assumption, not
  a measurement: zero-shot transfer is known to vary between fine-tuning runs, most in languages
  far from English, Keung et al. 2020 and Wu et al. 2022; measure it with a pilot), and an
  example variance from test sizes (tasks/sizes.py) with the two tasks' models answering
  DEFAULT_DISAGREEMENT of the items differently: 100^2 x d / n per language, averaged over the
  languages as independent or, for translated test sets, as one.

V_ex is held fixed as seeds are added (more runs leave the test set as it is), so the figures err
on the side of more seeds. `--cost` prices the seeds with cost.py: each target alone at its
seeds, and the sweep with every target at the most any needs; a rerun with the sweep's seeds
extended reuses every stage of the seeds it has (checked here on the stage keys).
May import: the plan layer (config, graph, cost, and through them tasks) and report; no torch or ray.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ray_xr import plan as planning
from ray_xr.plan import cost
from ray_xr.plan.config import Sweep
from ray_xr.errors import ReportError
from ray_xr.report import analysis, results, stats
from ray_xr.report.compare import pairs
from ray_xr.stages import RunDir
from ray_xr.tasks import get_task

DEFAULT_SEED_SD = 1.0  # points, s.d. of a table cell between training runs (an assumption: see above)
DEFAULT_DISAGREEMENT = 0.15  # share of test items two tasks' models answer differently
DEFAULT_TRANSLATION_CORRELATION = 0.5  # of an item's outcome differences across its translations
SHOWN_SEEDS = (2, 3, 5, 10)
STATED_MDD = 2.0  # the difference the one-seed warning prices, points
PILOT_BOOT = 400
PRICED_SEEDS = 10


@dataclass
class Variances:
    """Of one target (points^2): each task's between-seed variance of its table cell; for each
    pair of tasks, the example variance of the difference of their means of n runs, v_ex +
    v_run / n: the test set's part and the part particular to each run."""

    between: dict[str, float]
    v_ex: dict[tuple[str, str], float]
    v_run: dict[tuple[str, str], float]
    source: str

    def example(self, pair: tuple[str, str], n: int) -> float:
        return self.v_ex[pair] + self.v_run[pair] / n


def comparisons(p: planning.Plan) -> int:
    """The rows of the report's comparisons table, over which it corrects: every pair of tasks
    at the clean point (once per target) and every noisy point."""
    rows = 0
    for target in p.sweep.targets:
        points = {(c["noise"], c["level"]) for s in p.stages.values() if s.phase == "eval"
                  for c in s.cells if c["target"] == target}
        rows += len(pairs(list(p.sweep.arms))) * (1 + sum(level > 0 for _, level in points))
    return rows


def _test_sizes(p: planning.Plan, target: str) -> list[int]:
    """Test examples per non-source language of a target's clean evaluations."""
    sizes = {}
    for s in p.stages.values():
        if s.phase == "eval" and s.spec["task"] == target and s.spec["noise"] == "clean" \
                and s.spec["language"] != p.sweep.data.source_language:
            sizes[s.spec["language"]] = cost.test_examples(s)
    return list(sizes.values())


def default_variances(p: planning.Plan, target: str) -> Variances:
    sizes = _test_sizes(p, target)
    parallel = get_task(target).parallel_for(p.sweep.source_of(target))
    per_language = [100 ** 2 * DEFAULT_DISAGREEMENT / max(n, 1) for n in sizes] or [np.inf]
    languages = len(per_language)
    v_ex = sum(per_language) / languages ** 2  # the mean of independent languages
    if parallel:  # translations of the same items: their outcomes move together
        v_ex *= 1 + (languages - 1) * DEFAULT_TRANSLATION_CORRELATION
    arms = list(p.sweep.arms)
    # all of it counted as the test set's (none as particular to a run): more seeds do not shrink it
    return Variances({a: DEFAULT_SEED_SD ** 2 for a in arms}, {pair: v_ex for pair in pairs(arms)},
                     {pair: 0.0 for pair in pairs(arms)},
                     f"defaults: seed s.d. {DEFAULT_SEED_SD:g} point per table cell (assumed), two tasks' models "
                     f"answering {DEFAULT_DISAGREEMENT:.0%} of the test items differently"
                     + (f", translations correlated {DEFAULT_TRANSLATION_CORRELATION:g}" if parallel else ""))


def pilot_variances(pilot: Path, p: planning.Plan, target: str) -> Variances | None:
    """The variances a finished run measured, scaled to the sweep's test sizes; None when it has
    no outcomes of the target."""
    records = [r for r in results.load_results(pilot) if r["target"] == target]
    panel = analysis.build_panel(pilot, records, results.sweep_source_language(pilot), PILOT_BOOT)
    if panel is None:
        return None
    est, boot = analysis.seed_cells(panel.estimate, panel), analysis.seed_cells(panel.boot, panel)
    between = {m: float(np.nanmax(stats.nanvar(est[i], 0))) for i, m in enumerate(panel.models)
               if np.sum(~np.isnan(est[i]).all(axis=1)) >= 2}
    pilot_n = sum(panel.n_examples[panel.languages[i]] for i in panel.others)
    scale = pilot_n / max(sum(_test_sizes(p, target)), 1)
    v_ex, v_run = {}, {}
    for a, b in pairs(panel.models):
        parts = _example_parts(boot, panel.models.index(a), panel.models.index(b))
        v_ex[a, b], v_run[a, b] = (x * scale for x in parts)
    fallback = default_variances(p, target)
    seeds = "" if between else f"; one run per task, so the seed variance is the default ({DEFAULT_SEED_SD:g} point)"
    known = float(np.mean(list(between.values()))) if between else DEFAULT_SEED_SD ** 2
    arms, missing = list(p.sweep.arms), (max(v_ex.values(), default=max(fallback.v_ex.values())), 0.0)
    return Variances({a: between.get(a, known) for a in arms},
                     {pair: v_ex.get(pair, missing[0]) for pair in pairs(arms)},
                     {pair: v_run.get(pair, missing[1]) for pair in pairs(arms)},
                     f"pilot {pilot}: {len(panel.seeds)} seed(s), {pilot_n:,} test examples scaled to the"
                     f" sweep's{seeds}")


def _example_parts(boot: np.ndarray, a: int, b: int) -> tuple[float, float]:
    """(v_ex, v_run) of a pair from a pilot's replicates [rep, model, seed, point]: the example
    variance of one run of each (averaged over pairs of runs) is v_ex + v_run, that of the means
    of its k runs v_ex + v_run / k; the largest over the points. With one run each, all is v_ex."""
    runs = [s for s in range(boot.shape[2]) if not np.isnan(boot[:, a, s]).all() and not np.isnan(boot[:, b, s]).all()]
    one = stats.nanmean(np.array([stats.nanvar(boot[:, a, s] - boot[:, b, t], 0) for s in runs for t in runs]), 0)
    k = len(runs)
    if k < 2:
        return float(np.nanmax(one)), 0.0
    means = stats.nanvar(stats.nanmean(boot[:, a, runs], 1) - stats.nanmean(boot[:, b, runs], 1), 0)
    run = np.clip((one - means) / (1 - 1 / k), 0, None)
    worst = int(np.nanargmax(means + run / 2))  # the point that is hardest with two runs
    return float(max(one[worst] - run[worst], 0.0)), float(run[worst])


def _mdd(v: Variances, pair: tuple[str, str], n: int, m: int) -> float:
    se, df = stats.welch((v.between[pair[0]] / n, v.between[pair[1]] / n), (n, n), v.example(pair, n))
    return float(stats.minimum_detectable_difference(se, df, m))


def _needed(v: Variances, mdd: float, m: int) -> dict[tuple[str, str], int | None]:
    return {pair: stats.seeds_needed(mdd, (v.between[pair[0]], v.between[pair[1]]), v.v_ex[pair], m, v.v_run[pair])
            for pair in v.v_ex}


def analyse(p: planning.Plan, mdd: float | None, pilot: str | None) -> dict:
    """{"mdd", "comparisons", "seeds": {target: {task: n or None}} (with mdd), "mdd_by_seeds":
    {target: {n: points}} (the hardest pair), "variance": {target: {...}}}."""
    if pilot is not None and not (Path(pilot) / "results.jsonl").is_file():
        raise ReportError(f"--pilot {pilot}: no results.jsonl (is this a finished run folder?)")
    m, arms = comparisons(p), list(p.sweep.arms)
    out = {"mdd": mdd, "comparisons": m, "seeds": {}, "mdd_by_seeds": {}, "floor": {}, "variance": {}}
    for target in p.sweep.targets:
        v = pilot_variances(Path(pilot), p, target) if pilot else None
        if v is None:
            v = default_variances(p, target)
            v.source = (f"pilot {pilot} has no finished evaluation of {target}; " if pilot else "") + v.source
        out["variance"][target] = {
            "source": v.source, "seed_sd": {a: round(float(np.sqrt(x)), 3) for a, x in v.between.items()},
            "example_sd": {f"{a} - {b}": round(float(np.sqrt(v.example((a, b), 1))), 3) for a, b in v.v_ex},
            "example_sd_test_set": {f"{a} - {b}": round(float(np.sqrt(x)), 3) for (a, b), x in v.v_ex.items()}}
        out["mdd_by_seeds"][target] = {n: round(max(_mdd(v, pair, n, m) for pair in v.v_ex), 2) for n in SHOWN_SEEDS}
        # what no number of seeds goes below: the test set's own variance
        floor = stats.minimum_detectable_difference(np.sqrt(max(v.v_ex.values())), np.inf, m)
        out["floor"][target] = round(float(floor), 2)
        if mdd is not None:
            needed = _needed(v, mdd, m)
            out["seeds"][target] = {a: _most([n for pair, n in needed.items() if a in pair]) for a in arms}
    return out


def _most(values: list) -> int | None:
    return None if not values or None in values else max(values)


def with_seeds(sweep: Sweep, n: int, targets: tuple[str, ...] | None = None) -> Sweep:
    """The sweep with n seeds (its own first, then the next numbers), for these targets."""
    own = tuple(sweep.seeds[:n])
    seeds = own + tuple(range(max(own) + 1, max(own) + 1 + n - len(own)))
    targets = targets or sweep.targets
    return sweep.model_copy(update={"seeds": seeds, "targets": targets,
                                    "languages": {t: v for t, v in sweep.languages.items() if t in targets}})


def _per_seed(sweep: Sweep, gpu: str, table: dict, targets: tuple[str, ...] | None = None) -> tuple[dict, dict]:
    """The cost and the stage count of one seed, and what each further seed adds: every stage
    of a seed is its own (its key holds the seed) besides the shared pretraining, so both grow by
    the same amount with each seed (measured over ten seeds, below the estimate's rounding;
    building the plan of 200 seeds would take minutes)."""
    one, more = (planning.build(with_seeds(sweep, n, targets)) for n in (1, 1 + PRICED_SEEDS))
    first, last = (cost.estimate(x, gpu, table)["gpu_hours"]["total"] for x in (one, more))
    return ({"hours": first, "stages": len(one.stages)},
            {"hours": (last - first) / PRICED_SEEDS, "stages": (len(more.stages) - len(one.stages)) // PRICED_SEEDS})


def priced(p: planning.Plan, found: dict, gpu: str, table: dict, pilot: str | None) -> dict:
    """GPU-hours of each target alone at its seeds, and of the sweep at the most any target needs;
    what a rerun with those seeds reuses."""
    needs = {t: _most(list(found["seeds"][t].values())) for t in p.sweep.targets}
    hours = {}
    for t, n in needs.items():
        hours[t] = None  # no number of seeds reaches the difference
        if n is not None:
            first, more = _per_seed(p.sweep, gpu, table, (t,))
            hours[t] = round(first["hours"] + (n - 1) * more["hours"], 2)
    out = {"gpu_hours": hours, "gpu": gpu}
    most = max((n for n in needs.values() if n is not None), default=None)
    if most is not None:
        first, more = _per_seed(p.sweep, gpu, table)
        hours["total"] = round(first["hours"] + (most - 1) * more["hours"], 2)
        # adding a seed re-keys no stage of the others: checked, not assumed
        extended = planning.build(with_seeds(p.sweep, len(p.sweep.seeds) + 1))
        total_stages = first["stages"] + (most - 1) * more["stages"]
        out.update(usd=round(hours["total"] * table[gpu].usd_per_hour, 2), seeds_to=most,
                   every_stage_reused=set(p.stages) <= set(extended.stages), reused_stages=len(p.stages),
                   new_stages=max(0, total_stages - len(p.stages)),
                   pilot_finished=len(RunDir(pilot).done() & set(p.stages)) if pilot else 0)
    return out


def describe(p: planning.Plan, found: dict) -> str:
    arms, m = list(p.sweep.arms), found["comparisons"]
    lines = [f"sweep {p.sweep.name}: the report's test over training runs, 80% power, two-sided 5% after Holm over its"
             f" {m} comparisons (at worst level {stats.ALPHA / m:.2g})"]
    if found["mdd"] is not None:
        priced_too = "gpu_hours" in found
        lines.append(f"  seeds per task to detect a {found['mdd']:g}-point difference (—: no number of seeds can, the"
                     " test set's own variance is too large)" + (f", and the GPU-hours ({found['gpu']}) of the target"
                                                                 " alone at those seeds:" if priced_too else ":"))
        lines.append(f"  {'target':10}" + "".join(f"{a:>12}" for a in arms)
                     + (f"{'GPU-hours':>12}" if priced_too else ""))
        for target, seeds in found["seeds"].items():
            hours = found.get("gpu_hours", {}).get(target)
            lines.append(f"  {target:10}" + "".join(f"{'—' if seeds[a] is None else seeds[a]:>12}" for a in arms)
                         + (f"{'—' if hours is None else f'{hours:,.1f}':>12}" if priced_too else ""))
    lines.append("  minimum detectable difference (points; the hardest pair of tasks) with n seeds per task, and with"
                 " any number (the test set's floor):")
    lines.append(f"  {'target':10}" + "".join(f"{f'n={n}':>10}" for n in SHOWN_SEEDS) + f"{'floor':>10}")
    for target, by_n in found["mdd_by_seeds"].items():
        lines.append(f"  {target:10}" + "".join(f"{by_n[n]:>10.2f}" for n in SHOWN_SEEDS)
                     + f"{found['floor'][target]:>10.2f}")
    for target, v in found["variance"].items():
        sd = ", ".join(f"{a} {x:.2f}" for a, x in v["seed_sd"].items())
        ex, floor = (max(v[key].values(), default=float("nan")) for key in ("example_sd", "example_sd_test_set"))
        lines.append(f"  {target}: seed s.d. {sd}; example s.d. of a difference up to {ex:.2f} with one run per task,"
                     f" {floor:.2f} of it the test set's ({v['source']})")
    if "usd" in found:
        seeds = _seeds_text(with_seeds(p.sweep, found["seeds_to"]).seeds)
        lines.append(f"  the whole sweep with seeds {seeds}: {found['gpu_hours']['total']:,.1f} {found['gpu']}"
                     f" GPU-hours, ${found['usd']:,.0f} (`ray-xr plan --cost` says how it counts)")
        reuse = "every one" if found["every_stage_reused"] else "only some"
        lines.append(f"  a rerun with seeds {seeds} reuses {reuse} of the {found['reused_stages']:,} stages of seeds"
                     f" {_seeds_text(p.sweep.seeds)} and computes {found['new_stages']:,} new ones"
                     + (f"; the pilot's folder holds {found['pilot_finished']:,} of them finished"
                        if found.get("pilot_finished") else ""))
    return "\n".join(lines)


def _seeds_text(seeds: tuple[int, ...]) -> str:
    consecutive = list(seeds) == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"{seeds[0]}-{seeds[-1]}" if consecutive and len(seeds) > 3 else ", ".join(map(str, seeds))


def one_seed_warning(p: planning.Plan, source: str) -> str | None:
    """A warning line for a sweep that compares intermediate tasks with one seed; None otherwise."""
    if len(p.sweep.seeds) > 1 or len(p.sweep.arms) < 2:
        return None
    m = comparisons(p)
    needs = []
    for target in p.sweep.targets:
        n = _most(list(_needed(default_variances(p, target), STATED_MDD, m).values()))
        needs.append(f"{'more than 1000' if n is None else n} ({target})")
    return (f"ray-xr: warning: {source} trains each intermediate task with one seed: its report can say whether these"
            " trained models differ, not whether the intermediate tasks do. With a seed s.d. of"
            f" {DEFAULT_SEED_SD:g} point, a {STATED_MDD:g}-point difference needs {', '.join(needs)} seeds per task"
            f" (`ray-xr plan {source} --power --mdd {STATED_MDD:g}`; --pilot RUN_DIR measures the variances)")
