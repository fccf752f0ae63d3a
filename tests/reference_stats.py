"""Reference implementations of the report's resampling, written plainly (a loop over
replicates, one example set): the tests check the report's vectorised code (analysis.py,
compare.py) against them, and them against exact enumeration."""
from __future__ import annotations

import numpy as np

from ray_xr.report.stats import percentile_ci, ratio


def _columns(a_num, b_num, a_den=None, b_den=None) -> list[np.ndarray]:
    a_num, b_num = np.asarray(a_num, float), np.asarray(b_num, float)
    if a_num.shape != b_num.shape:
        raise ValueError(f"paired samples differ in size: {a_num.shape} and {b_num.shape}")
    ones = np.ones_like(a_num)
    return [a_num, ones if a_den is None else np.asarray(a_den, float),
            b_num, ones if b_den is None else np.asarray(b_den, float)]


def bootstrap_replicates(numerator, denominator=None, *, rng: np.random.Generator, n_boot: int = 2000) -> np.ndarray:
    """Replicates of 100 x sum(numerator) / sum(denominator), examples drawn with replacement."""
    num = np.asarray(numerator, float)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, float)
    out = np.empty(n_boot)
    for r in range(n_boot):
        take = rng.integers(0, len(num), len(num))
        out[r] = ratio(num[take].sum(), den[take].sum())
    return out


def bootstrap_ci(numerator, denominator=None, *, rng: np.random.Generator, n_boot: int = 2000) -> tuple:
    """(estimate, low, high): the score and its percentile bootstrap interval."""
    num = np.asarray(numerator, float)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, float)
    low, high = percentile_ci(bootstrap_replicates(num, den, rng=rng, n_boot=n_boot))
    return float(ratio(num.sum(), den.sum())), float(low), float(high)


def paired_bootstrap_variance(a_num, b_num, a_den=None, b_den=None, *, rng: np.random.Generator,
                              n_boot: int = 2000) -> float:
    """The variance of score(a) - score(b) over examples drawn with replacement, the same draw
    for both."""
    a_n, a_d, b_n, b_d = _columns(a_num, b_num, a_den, b_den)
    diffs = np.empty(n_boot)
    for r in range(n_boot):
        take = rng.integers(0, len(a_n), len(a_n))
        diffs[r] = ratio(a_n[take].sum(), a_d[take].sum()) - ratio(b_n[take].sum(), b_d[take].sum())
    return float(np.var(diffs, ddof=1))


def permutation_test(a_num, b_num, a_den=None, b_den=None, *, rng: np.random.Generator, n_perm: int = 2000) -> float:
    """Two-sided p-value of the paired permutation test of score(a) = score(b): each example's
    pair swapped with probability 1/2."""
    a_n, a_d, b_n, b_d = _columns(a_num, b_num, a_den, b_den)
    observed = ratio(a_n.sum(), a_d.sum()) - ratio(b_n.sum(), b_d.sum())
    extreme = 0
    for _ in range(n_perm):
        swap = rng.integers(0, 2, len(a_n)).astype(bool)
        t = (ratio(np.where(swap, b_n, a_n).sum(), np.where(swap, b_d, a_d).sum())
             - ratio(np.where(swap, a_n, b_n).sum(), np.where(swap, a_d, b_d).sum()))
        extreme += abs(t) >= abs(observed) - 1e-9
    return (1 + extreme) / (1 + n_perm)
