"""Noisy class counts on linear classifiers whose smoothed probabilities are known exactly."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from robustkit import config as config_lib
from robustkit import distribute
from robustkit.certify import bounds, runner, sanity, smoothing
from robustkit.certify.config import CertifyJob
from robustkit.sections import DistributeConfig
from tests.certify import models

SIGMA = 0.25


def _job(**certify):
    return config_lib.parse(CertifyJob, {"certify": {"n0": 100, "n": 20000, "predict_n": 2000, "batch_size": 5000,
                                                     "sigmas": [SIGMA], **certify}})


def _certify(margin, job, strategy=None, seed=0):
    w = models.weights()
    x, biases = models.images([margin], w)
    space = smoothing.PixelSpace(models.linear(w, float(biases[0])), models.SHAPE)
    counter = smoothing.NoiseCounter(strategy or tf.distribute.get_strategy(), space, 2, job.certify.batch_size, seed)
    return runner.certify_examples(counter, x, np.ones(1, np.int64), SIGMA, job), counter, x


@pytest.mark.parametrize("p", [0.7, 0.9, 0.99])
def test_radius_approaches_the_analytic_one_on_a_linear_classifier(p):
    job = _job()
    w = models.weights()
    margin = stats.norm.ppf(p) * SIGMA * np.linalg.norm(w)
    assert models.exact_probability(margin, w, SIGMA) == pytest.approx(p)
    columns, _, _ = _certify(margin, job)
    analytic = SIGMA * stats.norm.ppf(p)  # = margin / ||w||, the distance to the decision boundary.
    n = job.certify.n
    # The lower bound sits about z_{1-alpha} standard errors under the estimate, which lies within a few of p.
    lowest = SIGMA * stats.norm.ppf(p - 7.0 * np.sqrt(p * (1 - p) / n))
    assert columns["prediction"][0] == 1 and columns["correct"][0] == 1
    assert lowest < columns["radius"][0] < analytic
    assert columns["radius"][0] == pytest.approx(SIGMA * stats.norm.ppf(columns["p_lower"][0]))
    # The share of the label among the estimation draws estimates p itself.
    assert columns["label_count"][0] / n == pytest.approx(p, abs=4.0 * np.sqrt(p * (1 - p) / n))
    assert columns["predict"][0] == 1


def test_certify_and_predict_abstain_when_the_top_two_classes_tie():
    columns, _, _ = _certify(0.0, _job())  # On the decision boundary: each class has probability 1/2.
    assert columns["prediction"][0] == bounds.ABSTAIN and columns["radius"][0] == 0.0
    assert columns["correct"][0] == 0
    assert columns["predict"][0] == bounds.ABSTAIN and columns["predict_p_value"][0] > 0.001


def test_the_attack_check_passes_inside_true_radii_and_catches_inflated_ones():
    job = _job(n=5000)
    w = models.weights()
    margin = stats.norm.ppf(0.9) * SIGMA * np.linalg.norm(w)
    columns, counter, x = _certify(margin, job)
    options = job.sanity
    args = (counter, x, columns["index"], columns["prediction"])
    inside = sanity.attack_check(*args, columns["radius"], SIGMA, options, job.certify.alpha, 0)
    assert inside["passed"] and inside["attacked"] == 1 and inside["succeeded"] == 0
    assert inside["max_distance_over_radius"] == pytest.approx(1.0, abs=1e-4)  # PGD went to the edge of the ball.
    assert inside["control"]["scale"] == 2.0
    inflated = sanity.attack_check(*args, columns["radius"] * 3.0, SIGMA, options, job.certify.alpha, 0)
    assert not inflated["passed"] and inflated["succeeded"] == 1


def test_same_seed_same_counts_on_one_device_and_on_two():
    one = tf.distribute.get_strategy()
    two = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
    assert two.num_replicas_in_sync == 2
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 3)).astype(np.float32)
    space = smoothing.PixelSpace(lambda x: tf.reshape(x, [-1, 16]) @ w, models.SHAPE)
    images = rng.random((5, *models.SHAPE)).astype(np.float32)  # An odd count: the last call pads a replica.
    draws = [(smoothing.PHASE_SELECTION, 20), (smoothing.PHASE_ESTIMATION, 250)]
    counts = [smoothing.NoiseCounter(s, space, 3, 64, seed=3).count(images, np.arange(5), 0.5, draws)[0]
              for s in (one, two)]
    np.testing.assert_array_equal(counts[0], counts[1])
    assert counts[0].sum(axis=2).tolist() == [[20, 250]] * 5
    # The noise is keyed by the example's index, not by its row: a subset gets the same counts.
    sub = smoothing.NoiseCounter(two, space, 3, 64, seed=3).count(images[3:], np.arange(3, 5), 0.5, draws)[0]
    np.testing.assert_array_equal(sub, counts[0][3:])
    other = smoothing.NoiseCounter(one, space, 3, 64, seed=4).count(images, np.arange(5), 0.5, draws)[0]
    assert not np.array_equal(other, counts[0])


def test_selection_estimation_and_prediction_draws_are_independent():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(16, 3)).astype(np.float32)
    space = smoothing.PixelSpace(lambda x: tf.reshape(x, [-1, 16]) @ w, models.SHAPE)
    images = rng.random((4, *models.SHAPE)).astype(np.float32)
    phases = [smoothing.PHASE_SELECTION, smoothing.PHASE_ESTIMATION, smoothing.PHASE_PREDICTION]
    counts = smoothing.NoiseCounter(tf.distribute.get_strategy(), space, 3, 64, seed=0).count(
        images, np.arange(4), 1.0, [(phase, 40) for phase in phases])[0]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not np.array_equal(counts[:, a], counts[:, b]), (phases[a], phases[b])
