"""The report's statistics: hand-computed values for every measure, and simulations that
check what a confidence interval and a test promise (coverage, power, false rejections)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ray_xr.report import stats


def test_ratio_is_a_percentage_and_zero_without_denominator():
    assert stats.ratio(3, 4) == pytest.approx(75.0)
    # seqeval: tp 2, fp 1, fn 1 -> F1 = 2*2 / (2*2 + 1 + 1) = 4/6
    assert stats.ratio(2 * 2, 2 * 2 + 1 + 1) == pytest.approx(66.6666667)
    assert stats.ratio(0, 0) == 0.0
    assert stats.ratio([1, 0], [2, 0]).tolist() == [50.0, 0.0]


def test_resample_weights_count_draws_and_sum_to_n():
    rng = np.random.default_rng(0)
    blocks = list(stats.resample_weights(rng, 7, 10))
    weights = np.concatenate(blocks)
    assert weights.shape == (10, 7)
    assert (weights.sum(1) == 7).all() and (weights >= 0).all()
    # the same draws, counted by hand
    rng = np.random.default_rng(0)
    draws = rng.integers(0, 7, size=(10, 7))
    assert (weights == np.stack([np.bincount(row, minlength=7) for row in draws])).all()


def test_resample_weights_come_in_blocks_that_bound_memory(monkeypatch):
    monkeypatch.setattr(stats, "_CELLS_PER_CHUNK", 30)
    blocks = list(stats.resample_weights(np.random.default_rng(0), 10, 7))
    assert [len(b) for b in blocks] == [3, 3, 1]


def test_percentile_ci_of_known_replicates():
    low, high = stats.percentile_ci(np.arange(101.0))
    assert (low, high) == (pytest.approx(2.5), pytest.approx(97.5))
    low, high = stats.percentile_ci([np.nan, 1.0, 2.0, 3.0], confidence=0.0)
    assert low == high == 2.0


def test_bootstrap_ci_of_a_constant_is_the_constant():
    estimate, low, high = stats.bootstrap_ci(np.ones(50), rng=np.random.default_rng(1), n_boot=200)
    assert (estimate, low, high) == (100.0, 100.0, 100.0)


def test_bootstrap_ci_of_a_mean_matches_the_normal_interval():
    # 200 right of 400: SE = 100 * sqrt(0.25 / 400) = 2.5 points, normal interval 50 +- 4.9
    outcomes = np.array([1.0, 0.0] * 200)
    estimate, low, high = stats.bootstrap_ci(outcomes, rng=np.random.default_rng(2), n_boot=4000)
    assert estimate == 50.0
    assert low == pytest.approx(50 - 4.9, abs=0.5) and high == pytest.approx(50 + 4.9, abs=0.5)


def test_bootstrap_of_a_ratio_resamples_sentences_not_chunks():
    tp, fp, fn = np.array([2, 0, 1]), np.array([1, 1, 0]), np.array([0, 1, 1])
    estimate, low, high = stats.bootstrap_ci(2 * tp, 2 * tp + fp + fn, rng=np.random.default_rng(3), n_boot=500)
    assert estimate == pytest.approx(100 * 6 / (6 + 2 + 2))  # corpus F1 = 60
    # a resample of three sentences can only reach F1 values made of these sentences
    reps = stats.bootstrap_replicates(2 * tp, 2 * tp + fp + fn, rng=np.random.default_rng(3), n_boot=500)
    possible = {round(float(stats.ratio(2 * (tp * w).sum(), ((2 * tp + fp + fn) * w).sum())), 9)
                for w in map(np.array, itertools.product(range(4), repeat=3)) if w.sum() == 3}
    assert {round(float(r), 9) for r in reps} <= possible
    assert low < estimate < high


def test_paired_bootstrap_difference_and_se():
    a = np.array([1.0, 1, 1, 0] * 100)
    b = np.array([1.0, 1, 0, 0] * 100)
    result = stats.paired_bootstrap(a, b, rng=np.random.default_rng(4), n_boot=4000)
    assert result["diff"] == pytest.approx(25.0)
    # per-example differences are 1 on a quarter of the examples: SE = 100 * sqrt(.25 * .75 / 400)
    assert result["se"] == pytest.approx(100 * np.sqrt(0.25 * 0.75 / 400), rel=0.08)
    assert result["ci_low"] < 25 < result["ci_high"]
    with pytest.raises(ValueError, match="differ in size"):
        stats.paired_bootstrap(a, b[:-1], rng=np.random.default_rng(0))


def test_permutation_test_matches_exact_enumeration():
    # a right on all 6 examples, b on none: only the identity and the full swap reach |100|,
    # 2 of the 2^6 equally likely swap patterns.
    a, b = np.ones(6), np.zeros(6)
    p = stats.permutation_test(a, b, rng=np.random.default_rng(5), n_perm=20000)
    assert p == pytest.approx(2 / 64, abs=0.004)
    # identical systems: nothing moves, every permutation is as extreme as the observation
    assert stats.permutation_test(a, a, rng=np.random.default_rng(5), n_perm=100) == 1.0


def test_permutation_test_of_a_ratio_swaps_whole_sentences():
    # two sentences; a: tp 1 on each, b: fp 1 on each. Swaps: none (100 - 0), both (0 - 100),
    # one (F1 2/3 each, difference 0): p = 2/4.
    a_num, a_den = np.array([2.0, 2.0]), np.array([2.0, 2.0])
    b_num, b_den = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    p = stats.permutation_test(a_num, b_num, a_den, b_den, rng=np.random.default_rng(6), n_perm=20000)
    assert p == pytest.approx(0.5, abs=0.01)


def test_p_value_counts_as_extreme_including_the_observation():
    assert stats.p_value([[0.5], [-2.0], [1.0], [3.0]], [2.0]).tolist() == [(1 + 2) / 5]


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4 x .01 = .04, 3 x .03 = .09, max(.09, 2 x .04), 1 x .2
    assert stats.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_minimum_detectable_difference():
    assert stats.minimum_detectable_difference(1.0) == pytest.approx(2.8016, abs=1e-4)
    assert stats.minimum_detectable_difference([0.5, 2.0]).tolist() == pytest.approx([1.4008, 5.6032], abs=1e-4)


def test_drops_auc_and_gap_by_hand():
    assert stats.drop(80, 60) == 20
    assert stats.relative_drop(80, 60) == 25
    assert np.isnan(stats.relative_drop(0, 0))
    # levels 0, .1, .2, .4; scores 50, 45, 40, 30: area .1 * 47.5 + .1 * 42.5 + .2 * 35 = 16,
    # divided by 50 * .4 = 20
    assert stats.normalised_auc([0, 0.1, 0.2, 0.4], [50, 45, 40, 30]) == pytest.approx(0.8)
    assert stats.normalised_auc([0, 0.5], [[10, 10], [10, 0]]).tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="clean level 0"):
        stats.normalised_auc([0.1, 0.2], [1, 2])
    assert stats.transfer_gap(90, [70, 80]) == 15
    assert stats.transfer_gap([90, 80], [[70, 80], [60, 60]]).tolist() == [15, 20]


def test_rng_for_is_stable_and_distinct():
    assert stats.rng_for("xnli", 1).integers(1 << 30) == stats.rng_for("xnli", 1).integers(1 << 30)
    assert stats.rng_for("xnli", 1).integers(1 << 30) != stats.rng_for("xnli", 2).integers(1 << 30)


# ---------------------------------------------------------------- simulations (acceptance)


def test_bootstrap_interval_covers_the_true_value_95_percent_of_the_time():
    """1,000 data sets of 300 examples (accuracy 70%); measured coverage: 95.5%."""
    rng = np.random.default_rng(2026)
    covered = 0
    for _ in range(1000):
        outcomes = (rng.random(300) < 0.7).astype(float)
        _, low, high = stats.bootstrap_ci(outcomes, rng=rng, n_boot=1000)
        covered += low <= 70.0 <= high
    assert 930 <= covered <= 970, covered


def test_bootstrap_interval_of_corpus_f1_covers_95_percent_of_the_time():
    """Span F1 as seqeval computes it (a ratio over the corpus), 1,000 data sets of 300
    sentences with 0-3 gold chunks each; the true F1 is that of an infinite corpus. Measured
    coverage: 95.2%."""
    rng = np.random.default_rng(7)
    p_found, p_spurious = 0.8, 0.3  # each gold chunk found; a spurious chunk per sentence

    def corpus(n):
        gold = rng.integers(0, 4, n)
        tp = rng.binomial(gold, p_found)
        fp = rng.binomial(1, p_spurious, n)
        return tp, fp, gold - tp

    # E[tp] = 1.5 * .8 = 1.2, E[fp] = .3, E[fn] = .3: F1 = 2.4 / 3.0
    truth = 100 * 2.4 / 3.0
    covered = 0
    for _ in range(1000):
        tp, fp, fn = corpus(300)
        _, low, high = stats.bootstrap_ci(2 * tp, 2 * tp + fp + fn, rng=rng, n_boot=1000)
        covered += low <= truth <= high
    assert 930 <= covered <= 970, covered


def _paired_outcomes(rng, n, p_a_only, p_b_only, p_both=0.6):
    """Two systems' 0/1 outcomes on the same examples: right together on p_both of them, a
    alone on p_a_only, b alone on p_b_only (a minus b = 100 x (p_a_only - p_b_only) points)."""
    u = rng.random(n)
    a = (u < p_both) | ((u >= p_both) & (u < p_both + p_a_only))
    b = (u < p_both) | ((u >= p_both + p_a_only) & (u < p_both + p_a_only + p_b_only))
    return a.astype(float), b.astype(float)


def test_paired_test_power_and_false_rejections():
    """2,000 examples, the systems disagreeing on 8% of them: a planted difference of 2 points
    (a alone right on 5%, b alone on 3%) is found in > 80% of 500 data sets (measured 86.8%),
    and with none planted (4% each) the test rejects in about 5% (measured 5.2%). Power falls
    as the systems disagree more: 79% at 10% disagreement, 60% at 15% (same 2 points)."""
    rng = np.random.default_rng(11)
    found = sum(stats.permutation_test(*_paired_outcomes(rng, 2000, 0.05, 0.03), rng=rng, n_perm=999) < 0.05
                for _ in range(500))
    false = sum(stats.permutation_test(*_paired_outcomes(rng, 2000, 0.04, 0.04), rng=rng, n_perm=999) < 0.05
                for _ in range(500))
    assert found / 500 > 0.80, found
    assert false / 500 <= 0.07, false
