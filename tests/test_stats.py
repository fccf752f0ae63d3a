"""The report's statistics: hand-computed values for every measure and for the test over
training runs, Student's t against published table values, and the reference resampling code
(tests/reference_stats.py) against exact enumeration. What the intervals and tests promise
(size, power, coverage) is checked on simulated run folders in test_report_sim.py."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ray_xr.report import stats
from tests import reference_stats as ref


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
    estimate, low, high = ref.bootstrap_ci(np.ones(50), rng=np.random.default_rng(1), n_boot=200)
    assert (estimate, low, high) == (100.0, 100.0, 100.0)


def test_bootstrap_ci_of_a_mean_matches_the_normal_interval():
    # 200 right of 400: SE = 100 * sqrt(0.25 / 400) = 2.5 points, normal interval 50 +- 4.9
    outcomes = np.array([1.0, 0.0] * 200)
    estimate, low, high = ref.bootstrap_ci(outcomes, rng=np.random.default_rng(2), n_boot=4000)
    assert estimate == 50.0
    assert low == pytest.approx(50 - 4.9, abs=0.5) and high == pytest.approx(50 + 4.9, abs=0.5)


def test_bootstrap_of_a_ratio_resamples_sentences_not_chunks():
    tp, fp, fn = np.array([2, 0, 1]), np.array([1, 1, 0]), np.array([0, 1, 1])
    estimate, low, high = ref.bootstrap_ci(2 * tp, 2 * tp + fp + fn, rng=np.random.default_rng(3), n_boot=500)
    assert estimate == pytest.approx(100 * 6 / (6 + 2 + 2))  # corpus F1 = 60
    # a resample of three sentences can only reach F1 values made of these sentences
    reps = ref.bootstrap_replicates(2 * tp, 2 * tp + fp + fn, rng=np.random.default_rng(3), n_boot=500)
    possible = {round(float(stats.ratio(2 * (tp * w).sum(), ((2 * tp + fp + fn) * w).sum())), 9)
                for w in map(np.array, itertools.product(range(4), repeat=3)) if w.sum() == 3}
    assert {round(float(r), 9) for r in reps} <= possible
    assert low < estimate < high


def test_paired_bootstrap_variance_of_a_difference():
    a = np.array([1.0, 1, 1, 0] * 100)
    b = np.array([1.0, 1, 0, 0] * 100)
    # per-example differences are 1 on a quarter of the examples: SE = 100 * sqrt(.25 * .75 / 400)
    v = ref.paired_bootstrap_variance(a, b, rng=np.random.default_rng(4), n_boot=3000)
    assert np.sqrt(v) == pytest.approx(100 * np.sqrt(0.25 * 0.75 / 400), rel=0.08)
    with pytest.raises(ValueError, match="differ in size"):
        ref.paired_bootstrap_variance(a, b[:-1], rng=np.random.default_rng(0))


def test_permutation_test_matches_exact_enumeration():
    # a right on all 6 examples, b on none: only the identity and the full swap reach |100|,
    # 2 of the 2^6 equally likely swap patterns.
    a, b = np.ones(6), np.zeros(6)
    p = ref.permutation_test(a, b, rng=np.random.default_rng(5), n_perm=20000)
    assert p == pytest.approx(2 / 64, abs=0.004)
    # identical systems: nothing moves, every permutation is as extreme as the observation
    assert ref.permutation_test(a, a, rng=np.random.default_rng(5), n_perm=100) == 1.0


def test_permutation_test_of_a_ratio_swaps_whole_sentences():
    # two sentences; a: tp 1 on each, b: fp 1 on each. Swaps: none (100 - 0), both (0 - 100),
    # one (F1 2/3 each, difference 0): p = 2/4.
    a_num, a_den = np.array([2.0, 2.0]), np.array([2.0, 2.0])
    b_num, b_den = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    p = ref.permutation_test(a_num, b_num, a_den, b_den, rng=np.random.default_rng(6), n_perm=20000)
    assert p == pytest.approx(0.5, abs=0.01)


def test_p_value_counts_as_extreme_including_the_observation():
    assert stats.p_value([[0.5], [-2.0], [1.0], [3.0]], [2.0]).tolist() == [(1 + 2) / 5]


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4 x .01 = .04, 3 x .03 = .09, max(.09, 2 x .04), 1 x .2
    assert stats.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_student_t_against_table_values():
    # two-sided 5% critical values of Student's t (any printed table): df 2, 4, 10, 30, and the normal
    assert stats.t_quantile(0.975, [2, 4, 10, 30, np.inf]).tolist() == pytest.approx(
        [4.303, 2.776, 2.228, 2.042, 1.960], abs=1e-3)
    assert stats.t_quantile(0.80, 4) == pytest.approx(0.941, abs=1e-3)
    assert stats.two_sided_p(2.776445, 4) == pytest.approx(0.05, abs=1e-6)
    assert stats.two_sided_p(0.0, 3) == 1.0


def test_recipe_test_by_hand():
    # three runs per arm: a 70, 72, 74 (s^2 = 4), b 68, 69, 70 (s^2 = 1); every replicate moves
    # a's three runs together by +-1 and leaves b's: the mean difference varies by V_ex = 1
    # (ddof 1 over 1,000 alternating replicates: 1000 / 999)
    a, b = np.array([70.0, 72, 74]), np.array([68.0, 69, 70])
    shift = np.tile([1.0, -1.0], 500)[:, None]
    found = stats.recipe_test(a, a + shift, b, np.broadcast_to(b, (1000, 3)))
    v_ex = 1000 / 999
    se2 = 4 / 3 + 1 / 3 + v_ex
    df = se2 ** 2 / ((4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)
    assert found["diff"] == 3.0 and found["v_ex"] == pytest.approx(v_ex)
    assert found["se"] == pytest.approx(np.sqrt(se2)) and found["df"] == pytest.approx(df)
    t = 3.0 / np.sqrt(se2)
    assert found["p"] == pytest.approx(stats.two_sided_p(t, df))
    half = stats.t_quantile(0.975, df) * np.sqrt(se2)
    assert (found["ci_low"], found["ci_high"]) == (pytest.approx(3 - half), pytest.approx(3 + half))


def test_recipe_interval_and_p_agree_and_need_two_seeds():
    rng = np.random.default_rng(0)
    for _ in range(200):  # the interval covers 0 exactly when p >= 5%
        a, b = rng.normal(0, 1, (3, 4)), rng.normal(0.5, 1, (4, 4))
        found = stats.recipe_test(a, a + rng.normal(0, 0.3, (50, 3, 4)), b, b + rng.normal(0, 0.3, (50, 4, 4)))
        assert ((found["ci_low"] > 0) | (found["ci_high"] < 0) == (found["p"] < 0.05)).all()
    one = stats.recipe_test(np.array([1.0]), np.ones((10, 1)), np.array([2.0, 3.0]), np.ones((10, 2)))
    assert np.isnan(one["p"]) and np.isnan(one["ci_low"]) and one["diff"] == -1.5
    # a seed missing (NaN) at one point leaves the other point its seeds
    a = np.array([[1.0, 1.0], [2.0, np.nan], [3.0, 3.0]])
    found = stats.recipe_test(a, np.broadcast_to(a, (20, 3, 2)), a - 1, np.broadcast_to(a - 1, (20, 3, 2)))
    assert found["n_a"].tolist() == [3, 2] and found["diff"].tolist() == [1.0, 1.0]


def test_arm_interval_over_seeds_or_examples():
    reps = np.random.default_rng(1).normal(50, 2, (4000, 1))
    mean, low, high = stats.arm_interval(np.array([50.0]), reps)  # one run: the examples' percentiles
    assert (low, high) == (pytest.approx(50 - 1.96 * 2, abs=0.2), pytest.approx(50 + 1.96 * 2, abs=0.2))
    runs = np.array([48.0, 50.0, 52.0])  # s^2 / n = 4 / 3; example variance of the mean 0
    mean, low, high = stats.arm_interval(runs, np.broadcast_to(runs, (100, 3)))
    assert mean == 50 and high - 50 == pytest.approx(stats.t_quantile(0.975, 2) * np.sqrt(4 / 3))


def test_minimum_detectable_difference():
    assert stats.minimum_detectable_difference(1.0) == pytest.approx(2.8016, abs=1e-4)
    assert stats.minimum_detectable_difference([0.5, 2.0]).tolist() == pytest.approx([1.4008, 5.6032], abs=1e-4)
    # Holm over 36 comparisons, 4 degrees of freedom: t(1 - .05 / 72, 4) + t(.8, 4)
    assert stats.minimum_detectable_difference(1.0, 4, 36) == pytest.approx(
        stats.t_quantile(1 - 0.05 / 72, 4) + 0.941, abs=1e-3)


def test_seeds_needed_is_the_fewest_that_reach_the_difference():
    between, v_ex, m = (1.0, 1.0), 0.05, 10
    n = stats.seeds_needed(1.5, between, v_ex, m)
    assert n is not None and n > 2

    def mdd(k):
        return stats.minimum_detectable_difference(*stats.welch([v / k for v in between], (k, k), v_ex), m)

    assert mdd(n) <= 1.5 < mdd(n - 1)
    # the example variance alone sets a floor no number of seeds goes below
    floor = (stats.t_quantile(1 - 0.05 / (2 * m), np.inf) + stats.t_quantile(0.8, np.inf)) * np.sqrt(v_ex)
    assert stats.seeds_needed(floor * 0.99, between, v_ex, m) is None


def test_drops_and_curve_measures_by_hand():
    assert stats.relative_drop(80, 60) == 25
    assert np.isnan(stats.relative_drop(0, 0))
    # levels 0, .1, .2, .4; scores 50, 45, 40, 30: area .1 * 47.5 + .1 * 42.5 + .2 * 35 = 16,
    # over the range .4: a mean score of 40, which is .8 of the clean 50
    assert stats.mean_score([0, 0.1, 0.2, 0.4], [50, 45, 40, 30]) == pytest.approx(40.0)
    assert stats.normalised_auc([0, 0.1, 0.2, 0.4], [50, 45, 40, 30]) == pytest.approx(0.8)
    assert stats.normalised_auc([0, 0.5], [[10, 10], [10, 0]]).tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="clean level 0"):
        stats.normalised_auc([0.1, 0.2], [1, 2])


def test_rng_for_is_stable_and_distinct():
    assert stats.rng_for("xnli", 1).integers(1 << 30) == stats.rng_for("xnli", 1).integers(1 << 30)
    assert stats.rng_for("xnli", 1).integers(1 << 30) != stats.rng_for("xnli", 2).integers(1 << 30)


