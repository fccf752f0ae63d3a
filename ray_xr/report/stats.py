"""The statistics behind the report: bootstrap confidence intervals, paired tests, Holm's
correction, the minimum detectable difference and the robustness measures. numpy only.

Every score is a *ratio of sums* over test examples, 100 x sum(numerator) / sum(denominator)
(ray_xr.metrics.Metric.outcome_ratio): accuracy is sum(correct) / n, SQuAD F1 the sum of
per-question F1 over n, mAP@20 the sum of per-query AP over n, and seqeval's corpus F1 is
sum(2 tp) / sum(2 tp + fp + fn). So one resampling scheme serves every metric, corpus-level
F1 included, and a resample costs a matrix product: the replicate sums are W @ columns, W the
(replicates x examples) matrix of how often each example is drawn.

- Bootstrap: examples are drawn with replacement (Efron's nonparametric bootstrap); the 95%
  interval is the percentile interval of the replicates (2.5th and 97.5th percentiles).
  Resampling indices rather than drawing multinomial counts is ~10x faster in numpy.
- Paired permutation test: under the null, the two systems' outcomes on an example are
  exchangeable, so each example's pair is swapped with probability 1/2; the p-value is
  (1 + #{|T*| >= |T|}) / (1 + R), exact in level (Phipson & Smyth 2010).
- Holm (1979): step-down family-wise correction, monotone, capped at 1.
- Minimum detectable difference at 5% two-sided and 80% power: (z_.975 + z_.80) x SE, SE the
  bootstrap standard error of the paired difference (a normal approximation).

Functions taking scores (drop, relative_drop, normalised_auc, transfer_gap) work elementwise
on arrays, so the same code gives the estimate and every bootstrap replicate.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

CONFIDENCE = 0.95
Z_975 = 1.959963984540054  # two-sided 5% test
Z_80 = 0.8416212335729143  # 80% power
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


def resample_weights(rng: np.random.Generator, n: int, size: int) -> Iterator[np.ndarray]:
    """Blocks of bootstrap weights, (replicates x n): how often each example is drawn; the
    blocks together hold `size` replicates. Blocks bound memory on large test sets."""
    step = max(1, _CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, size, step):
        rows = min(step, size - start)
        draws = rng.integers(0, n, size=(rows, n))
        # one bincount over row-offset indices counts every row at once
        flat = (draws + n * np.arange(rows)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def flip_masks(rng: np.random.Generator, n: int, size: int) -> Iterator[np.ndarray]:
    """Blocks of permutation masks, (replicates x n): 1 where an example's pair is swapped."""
    step = max(1, _CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, size, step):
        yield rng.integers(0, 2, size=(min(step, size - start), n)).astype(float)


def percentile_ci(replicates, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval over axis 0, ignoring NaN replicates."""
    tail = 100 * (1 - confidence) / 2
    with warnings.catch_warnings():
        # a column undefined in every replicate (F1 of a cell without entities) has no interval:
        # NaN is the answer, not a problem to print into the user's terminal
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.asarray(replicates, float), [tail, 100 - tail], axis=0)
    return low, high


def bootstrap_replicates(numerator, denominator=None, *, rng: np.random.Generator,
                         n_boot: int = 2000) -> np.ndarray:
    """Bootstrap replicates of the score 100 x sum(numerator) / sum(denominator) over examples
    (denominator None: 1 per example, a mean)."""
    num = np.asarray(numerator, float)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, float)
    cols = np.stack([num, den], axis=1)
    out = [w @ cols for w in resample_weights(rng, len(num), n_boot)]
    sums = np.concatenate(out)
    return ratio(sums[:, 0], sums[:, 1])


def bootstrap_ci(numerator, denominator=None, *, rng: np.random.Generator, n_boot: int = 2000,
                 confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(estimate, low, high): the score and its percentile bootstrap interval."""
    num = np.asarray(numerator, float)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, float)
    low, high = percentile_ci(bootstrap_replicates(num, den, rng=rng, n_boot=n_boot), confidence)
    return float(ratio(num.sum(), den.sum())), float(low), float(high)


def paired_bootstrap(a_num, b_num, a_den=None, b_den=None, *, rng: np.random.Generator,
                     n_boot: int = 2000, confidence: float = CONFIDENCE) -> dict:
    """Score of a minus score of b on the same examples, resampled together: the difference,
    its percentile interval and its bootstrap standard error."""
    cols = np.stack(_columns(a_num, b_num, a_den, b_den), axis=1)
    sums = np.concatenate([w @ cols for w in resample_weights(rng, len(cols), n_boot)])
    diffs = ratio(sums[:, 0], sums[:, 1]) - ratio(sums[:, 2], sums[:, 3])
    low, high = percentile_ci(diffs, confidence)
    total = cols.sum(0)
    return {"diff": float(ratio(total[0], total[1]) - ratio(total[2], total[3])),
            "ci_low": float(low), "ci_high": float(high), "se": float(np.std(diffs, ddof=1))}


def permutation_test(a_num, b_num, a_den=None, b_den=None, *, rng: np.random.Generator,
                     n_perm: int = 2000) -> float:
    """Two-sided p-value of the paired permutation test of score(a) = score(b)."""
    a_n, a_d, b_n, b_d = _columns(a_num, b_num, a_den, b_den)
    observed = ratio(a_n.sum(), a_d.sum()) - ratio(b_n.sum(), b_d.sum())
    delta = np.stack([b_n - a_n, b_d - a_d], axis=1)  # what a swap moves from b to a
    # examples on which a and b agree move nothing when swapped: leaving them out changes no
    # statistic and saves most of the work (two models agree on most examples)
    delta = delta[np.any(delta != 0, axis=1)]
    base = np.array([a_n.sum(), a_d.sum(), b_n.sum(), b_d.sum()])
    extreme = 0
    for flips in flip_masks(rng, len(delta), n_perm):
        moved = flips @ delta
        t = ratio(base[0] + moved[:, 0], base[1] + moved[:, 1]) - ratio(base[2] - moved[:, 0], base[3] - moved[:, 1])
        extreme += int(np.sum(np.abs(t) >= abs(observed) - 1e-9))
    return (1 + extreme) / (1 + n_perm)


def p_value(permuted, observed) -> np.ndarray:
    """Two-sided permutation p-value per column from permuted statistics (replicates x tests)."""
    permuted, observed = np.asarray(permuted, float), np.asarray(observed, float)
    extreme = np.sum(np.abs(permuted) >= np.abs(observed) - 1e-9, axis=0)
    return (1 + extreme) / (1 + len(permuted))


def _columns(a_num, b_num, a_den, b_den) -> list[np.ndarray]:
    a_num, b_num = np.asarray(a_num, float), np.asarray(b_num, float)
    if a_num.shape != b_num.shape:
        raise ValueError(f"paired samples differ in size: {a_num.shape} and {b_num.shape}")
    ones = np.ones_like(a_num)
    a_den = ones if a_den is None else np.asarray(a_den, float)
    b_den = ones if b_den is None else np.asarray(b_den, float)
    return [a_num, a_den, b_num, b_den]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else p
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def minimum_detectable_difference(se, alpha_z: float = Z_975, power_z: float = Z_80):
    """The true difference a two-sided 5% test finds with 80% power, given the standard error
    of the estimated difference: (z_.975 + z_.80) x SE = 2.80 SE. It shrinks as 1/sqrt(n):
    k times the examples (or independent seeds) divides it by sqrt(k)."""
    return (alpha_z + power_z) * np.asarray(se, float)


# ---------------------------------------------------------------- robustness measures


def drop(clean, noisy):
    """Absolute drop in points: clean minus noisy (positive = noise hurts)."""
    return np.asarray(clean, float) - np.asarray(noisy, float)


def relative_drop(clean, noisy):
    """Drop as a percentage of the clean score (NaN for a clean score of 0)."""
    clean = np.asarray(clean, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clean != 0, 100.0 * drop(clean, noisy) / clean, np.nan)


def normalised_auc(levels: Sequence[float], scores):
    """The area under score versus noise level (trapezoids over the levels given, 0 included),
    divided by the clean score times the level range: 1 = no loss at any level, 0.5 = the
    score falls linearly to 0 at the top level. `scores` has the levels on its last axis."""
    levels = np.asarray(levels, float)
    scores = np.asarray(scores, float)
    if len(levels) < 2 or levels[0] != 0:
        raise ValueError(f"need the clean level 0 and at least one noisy level, got {levels.tolist()}")
    widths = np.diff(levels)
    area = np.sum(widths * (scores[..., 1:] + scores[..., :-1]) / 2, axis=-1)
    clean = scores[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(clean != 0, area / (clean * (levels[-1] - levels[0])), np.nan)


def transfer_gap(source, others):
    """Source-language score minus the mean over the other languages (last axis of others)."""
    return np.asarray(source, float) - np.nanmean(np.asarray(others, float), axis=-1)
