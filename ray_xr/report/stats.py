"""The statistics behind the report: the test over training runs, bootstrap intervals, the
permutation test of these trained models, Holm's correction, the minimum detectable difference,
power planning and the robustness measures. numpy, and scipy for Student's t.

Every score is a *ratio of sums* over test examples, 100 x sum(numerator) / sum(denominator)
(ray_xr.metrics.Metric.outcome_ratio): accuracy is sum(correct) / n, SQuAD F1 the sum of
per-question F1 over n, mAP@20 the sum of per-query AP over n, and seqeval's corpus F1 is
sum(2 tp) / sum(2 tp + fp + fn). So one resampling scheme serves every metric, corpus-level
F1 included, and a resample costs a matrix product: the replicate sums are W @ columns, W the
(replicates x examples) matrix of how often each example is drawn. (np.dot, not `@`: numpy 2.4's
matmul of a few float32 rows by a tall matrix misses BLAS and takes ~80 times as long, holding
the GIL, which stalls the aggregator's record() while its thread renders the live report.)

- The question is about training recipes (an intermediate task), so the unit of the test is
  the training run (`recipe_test`). Per arm, each seed's statistic (a table cell: the mean over
  the non-source languages) varies between seeds with variance s^2, and the mean of the arm's
  n seeds varies over test sets: V_ex, the variance of the difference of the two arms' means
  with the seeds held fixed, from a paired bootstrap of the test examples (the same draws for
  both arms). SE^2 = s_a^2 / n_a + s_b^2 / n_b + V_ex; Welch-Satterthwaite degrees of freedom
  (V_ex counted with infinite ones: it rests on thousands of examples); t = diff / SE, p from
  Student's t, and the 95% interval diff +- t_.975,df x SE, so interval and p agree by
  construction. It is conservative: the part of the example noise particular to one seed is in
  both s^2 and V_ex. Seeds are not paired across arms: seed s of two intermediate tasks shares
  only the target head's initialisation (batch orders, the intermediate head and everything
  trained differ), so pairing them would claim a correlation the design does not make.
- Bootstrap: examples are drawn with replacement (Efron's nonparametric bootstrap); with one
  run per arm the 95% interval is the percentile interval of the replicates. Resampling indices
  rather than drawing multinomial counts is ~10x faster in numpy.
- Paired permutation test (`p_value`): these trained models' outcomes on an example are
  exchangeable under its null, so each example's pair is swapped with probability 1/2;
  p = (1 + #{|T*| >= |T|}) / (1 + R), exact in level (Phipson & Smyth 2010). It conditions on
  the trained models: it says whether these checkpoints differ on new test items, not whether
  the recipes do.
- Holm (1979): step-down family-wise correction, monotone, capped at 1.
- Minimum detectable difference (`minimum_detectable_difference`): the true difference found
  with 80% power at the report's own correction, taken at its worst (Holm's first step, a
  Bonferroni level alpha / m): (t_{1-alpha/(2m),df} + t_.80,df) x SE. With seed variance it
  does not shrink as 1/sqrt(examples): more examples shrink V_ex only, more seeds s^2 / n only.

Functions taking scores (drop, relative_drop, normalised_auc, mean_score) work elementwise
on arrays, so the same code gives the estimate and every bootstrap replicate.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from scipy import special

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80
_CELLS_PER_CHUNK = 4_000_000  # replicate x example entries held at once (~32 MB as int64)


def rng_for(*parts) -> np.random.Generator:
    """A generator seeded from names and numbers, so a report is the same on every rerun."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def ratio(numerator, denominator) -> np.ndarray:
    """100 x numerator / denominator, 0 where the denominator is 0 (seqeval's F1 without any
    chunk, gold or predicted, is 0)."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), 0.0)


def resample_weights(rng: np.random.Generator, n: int, size: int, step: int = 0) -> Iterator[np.ndarray]:
    """Blocks of bootstrap weights, (replicates x n): how often each example is drawn; the
    blocks together hold `size` replicates, `step` in each (default: as many as bound memory
    on large test sets). float32: counts and the integer outcome sums they weight stay exact
    below 2^24, and products of float32 matrices take half the time."""
    step = step or max(1, _CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, size, step):
        rows = min(step, size - start)
        draws = rng.integers(0, n, size=(rows, n))
        # one bincount over row-offset indices counts every row at once
        flat = (draws + n * np.arange(rows)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float32)


def flip_masks(rng: np.random.Generator, n: int, size: int, step: int = 0) -> Iterator[np.ndarray]:
    """Blocks of permutation masks, (replicates x n): 1 where an example's pair is swapped."""
    step = step or max(1, _CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, size, step):
        yield rng.integers(0, 2, size=(min(step, size - start), n), dtype=np.int8).astype(np.float32)


def percentile_ci(replicates, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval over axis 0, ignoring NaN replicates."""
    tail = 100 * (1 - confidence) / 2
    with warnings.catch_warnings():
        # a column undefined in every replicate (F1 of a cell without entities) has no interval:
        # NaN is the answer, not a problem to print into the user's terminal
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.asarray(replicates, float), [tail, 100 - tail], axis=0)
    return low, high


def p_value(permuted, observed) -> np.ndarray:
    """Two-sided permutation p-value per column from permuted statistics (replicates x tests)."""
    permuted, observed = np.asarray(permuted, float), np.asarray(observed, float)
    extreme = np.sum(np.abs(permuted) >= np.abs(observed) - 1e-9, axis=0)
    return (1 + extreme) / (1 + len(permuted))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else p
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def t_quantile(q, df):
    """Student's t quantile; df may be inf (the normal)."""
    return special.stdtrit(np.asarray(df, float), q)


def two_sided_p(t, df):
    return 2 * special.stdtr(np.asarray(df, float), -np.abs(t))


def nanvar(values, axis):
    with warnings.catch_warnings():  # fewer than two values: no variance, NaN says so
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanvar(values, axis=axis, ddof=1)


def nanmean(values, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def seed_components(values, replicates) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean, n, s^2 / n, replicates of the mean) of an arm: `values` [seed, ...] one statistic
    per training run (NaN: that seed is missing), `replicates` [rep, seed, ...] the same with the
    test examples resampled and the seeds held fixed."""
    values = np.asarray(values, float)
    n = np.sum(~np.isnan(values), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = nanvar(values, 0) / n
    return nanmean(values, 0), n, between, nanmean(np.asarray(replicates, float), 1)


def welch(between: Sequence, n: Sequence, v_ex) -> tuple[np.ndarray, np.ndarray]:
    """(SE, df): SE^2 = the sum of the arms' s^2 / n plus the example variance v_ex, and the
    Welch-Satterthwaite degrees of freedom, v_ex counted with infinitely many."""
    se2 = sum(between) + v_ex
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = sum(np.where(b > 0, b ** 2 / (k - 1), 0.0) for b, k in zip(between, n))
        df = np.where(denominator > 0, se2 ** 2 / np.where(denominator > 0, denominator, 1.0), np.inf)
    return np.sqrt(se2), df


def recipe_test(a, a_reps, b, b_reps, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """Arm a minus arm b, the unit being the training run (the module docstring): a, b
    [seed, ...] per-seed statistics; a_reps, b_reps [rep, seed, ...] their replicates under the
    same example draws. NaN wherever an arm has fewer than two seeds."""
    mean_a, n_a, between_a, boot_a = seed_components(a, a_reps)
    mean_b, n_b, between_b, boot_b = seed_components(b, b_reps)
    diff = mean_a - mean_b
    v_ex = nanvar(boot_a - boot_b, 0)
    se, df = welch((between_a, between_b), (n_a, n_b), v_ex)
    enough = (n_a >= 2) & (n_b >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    out = {"diff": diff, "ci_low": diff - half, "ci_high": diff + half, "p": two_sided_p(t, df),
           "se": se, "df": df, "v_ex": v_ex, "n_a": n_a, "n_b": n_b}
    return {k: np.where(enough, v, np.nan) if k not in ("n_a", "n_b", "diff") else v for k, v in out.items()}


def arm_interval(values, replicates, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) of one arm's statistic over its seeds: with two seeds or more, the
    t interval of recipe_test (its SE: s^2 / n plus the example variance of the mean); with one,
    the percentile interval of the example bootstrap (these trained models only)."""
    mean, n, between, boot = seed_components(values, replicates)
    se, df = welch((between,), (n,), nanvar(boot, 0))
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    low, high = percentile_ci(boot, confidence)
    return mean, np.where(n >= 2, mean - half, low), np.where(n >= 2, mean + half, high)


def minimum_detectable_difference(se, df=np.inf, comparisons: int = 1, alpha: float = ALPHA,
                                  power: float = POWER):
    """The true difference a two-sided test at level alpha, Holm-corrected over `comparisons`
    tests, finds with the given power: (t_{1-alpha/(2m),df} + t_{power,df}) x SE. Holm's first
    step is Bonferroni's alpha / m, so this is the worst case of the correction."""
    return (t_quantile(1 - alpha / (2 * comparisons), df) + t_quantile(power, df)) * np.asarray(se, float)


def seeds_needed(mdd: float, between_var: Sequence[float], v_ex: float, comparisons: int,
                 v_run: float = 0.0, most: int = 1000) -> int | None:
    """The fewest seeds per arm (at least 2) whose minimum detectable difference is at most `mdd`
    points, for arms of between-seed variances `between_var` (of one run's statistic) and an
    example variance of the difference of the arms' means of n runs of v_ex + v_run / n (v_ex
    the test set's part, which no number of seeds removes, v_run the part particular to each
    run); None when even `most` seeds cannot reach it."""
    for n in range(2, most + 1):
        se, df = welch(tuple(np.asarray(v, float) / n for v in between_var), (n,) * len(between_var), v_ex + v_run / n)
        if minimum_detectable_difference(se, df, comparisons) <= mdd:
            return n
    return None


# ---------------------------------------------------------------- robustness measures


def drop(clean, noisy):
    """Absolute drop in points: clean minus noisy (positive = noise hurts)."""
    return np.asarray(clean, float) - np.asarray(noisy, float)


def relative_drop(clean, noisy):
    """Drop as a percentage of the clean score (NaN for a clean score of 0)."""
    clean = np.asarray(clean, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clean != 0, 100.0 * drop(clean, noisy) / clean, np.nan)


def mean_score(levels: Sequence[float], scores):
    """The area under score versus noise level (trapezoids over the levels given, 0 included)
    divided by the level range: the score averaged over the noise range, in points (absolute
    robustness). `scores` has the levels on its last axis."""
    levels = np.asarray(levels, float)
    scores = np.asarray(scores, float)
    if len(levels) < 2 or levels[0] != 0:
        raise ValueError(f"need the clean level 0 and at least one noisy level, got {levels.tolist()}")
    area = np.sum(np.diff(levels) * (scores[..., 1:] + scores[..., :-1]) / 2, axis=-1)
    return area / (levels[-1] - levels[0])


def normalised_auc(levels: Sequence[float], scores):
    """mean_score over the clean score (relative robustness, the share of the clean score kept):
    1 = no loss at any level, 0.5 = the score falls linearly to 0 at the top level."""
    clean = np.asarray(scores, float)[..., 0]
    area = mean_score(levels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clean != 0, area / np.where(clean != 0, clean, 1.0), np.nan)
