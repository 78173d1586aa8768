"""Clopper-Pearson bounds, CERTIFY's and PREDICT's decisions, certified accuracy: known answers."""

import numpy as np
import pytest
from scipy import stats

from robustkit.certify import bounds


@pytest.mark.parametrize("k,n,alpha", [(99, 100, 0.001), (50, 100, 0.05), (9000, 10000, 0.001), (1, 10, 0.01),
                                       (6, 7, 0.2)])
def test_lower_bound_is_the_alpha_quantile_of_beta(k, n, alpha):
    assert bounds.clopper_pearson_lower(k, n, alpha) == pytest.approx(stats.beta.ppf(alpha, k, n - k + 1), rel=1e-12)
    assert bounds.clopper_pearson_upper(k, n, alpha) == pytest.approx(stats.beta.ppf(1 - alpha, k + 1, n - k),
                                                                      rel=1e-12)
    assert bounds.clopper_pearson_lower(k, n, alpha) < k / n < bounds.clopper_pearson_upper(k, n, alpha)


def test_known_values():
    # k = n: Beta(n, 1) has CDF p^n, so its alpha quantile is alpha^(1/n).
    assert bounds.clopper_pearson_lower(100, 100, 0.001) == pytest.approx(0.001 ** (1 / 100), rel=1e-12)
    assert bounds.clopper_pearson_lower(10, 10, 0.05) == pytest.approx(0.741134, abs=1e-6)
    # k = 0: the lower bound is 0 and the upper bound 1 - alpha^(1/n).
    assert bounds.clopper_pearson_lower(0, 100, 0.001) == 0.0
    assert bounds.clopper_pearson_upper(0, 10, 0.05) == pytest.approx(1 - 0.05 ** 0.1, rel=1e-12)
    # Cohen et al.'s largest radius at n = 100,000, alpha = 0.001: sigma * Phi^-1(0.001^(1e-5)) = 3.81 sigma.
    p = bounds.clopper_pearson_lower(100_000, 100_000, 0.001)
    assert bounds.radius(p, 0.25) == pytest.approx(0.25 * 3.8102, abs=1e-3)
    with pytest.raises(ValueError):
        bounds.clopper_pearson_lower(5, 4, 0.01)


def test_radius_is_sigma_times_the_normal_quantile():
    assert bounds.radius(stats.norm.cdf(1.0), 0.25) == pytest.approx(0.25)
    assert bounds.radius(0.5, 0.25) == 0.0 and bounds.radius(0.3, 0.25) == 0.0


def test_certify_one_takes_the_selection_class_and_bounds_its_estimation_share():
    top, radius, p = bounds.certify_one(np.array([3, 90, 7]), np.array([100, 9800, 100]), 0.5, 0.001)
    assert top == 1 and p == pytest.approx(stats.beta.ppf(0.001, 9800, 201))
    assert radius == pytest.approx(0.5 * stats.norm.ppf(p))
    # The estimation counts of another class never decide the class.
    top, radius, p = bounds.certify_one(np.array([3, 90, 7]), np.array([9800, 100, 100]), 0.5, 0.001)
    assert top == bounds.ABSTAIN and radius == 0.0


def test_both_abstain_when_the_top_two_classes_tie():
    top, radius, _ = bounds.certify_one(np.array([50, 50, 0]), np.array([5000, 5000, 0]), 0.25, 0.001)
    assert top == bounds.ABSTAIN and radius == 0.0
    assert bounds.predict_one(np.array([0, 500, 500]), 0.001)[0] == bounds.ABSTAIN
    # A clear majority is predicted; its p-value is the two-sided binomial test's.
    predicted, p_value = bounds.predict_one(np.array([10, 600, 390]), 0.001)
    assert predicted == 1 and p_value == pytest.approx(stats.binomtest(600, 990, 0.5).pvalue)
    assert p_value <= 0.001


def test_certified_accuracy_counts_correct_examples_with_a_radius_at_least_r():
    radii = np.array([0.0, 0.1, 0.3, 0.6, 0.6])
    correct = np.array([False, True, True, True, False])
    expected = {"0": 0.6, "0.3": 0.4, "0.5": 0.2, "1": 0.0}
    assert bounds.certified_accuracy(radii, correct, [0.0, 0.3, 0.5, 1.0]) == expected
