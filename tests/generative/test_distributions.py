"""Known answers for the KL terms, the likelihoods and the warm-up schedules."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from robustkit.generative import distributions as dists
from robustkit.generative.cvae import linear_cost


def test_kl_to_standard_normal_is_the_vae_formula():
    mean = np.array([[0.5, -1.0, 0.0], [2.0, 0.0, 0.3]], np.float32)
    log_var = np.array([[0.0, -1.0, 1.0], [0.5, -2.0, 0.0]], np.float32)
    q = dists.diag_normal(tf.constant(mean), tf.constant(log_var))
    got = dists.kl(q, dists.standard_normal(2, 3)).numpy()
    by_hand = 0.5 * np.sum(np.exp(log_var) + mean ** 2 - 1.0 - log_var, axis=-1)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5)


def test_kl_between_diagonal_normals_matches_tfp_and_the_formula():
    rng = np.random.default_rng(0)
    mq, mp = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    lq, lp = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    got = dists.kl(dists.diag_normal(mq, lq), dists.diag_normal(mp, lp)).numpy()
    sq, sp = np.exp(0.5 * lq), np.exp(0.5 * lp)
    by_hand = np.sum(np.log(sp / sq) + (sq ** 2 + (mq - mp) ** 2) / (2 * sp ** 2) - 0.5, axis=-1)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5)
    tfd = tfp.distributions
    reference = tfd.kl_divergence(tfd.Independent(tfd.Normal(mq, sq), 1), tfd.Independent(tfd.Normal(mp, sp), 1))
    np.testing.assert_allclose(got, reference.numpy(), rtol=1e-5)
    assert (got >= 0).all()


def test_bernoulli_reconstruction_is_the_binary_cross_entropy_in_nats():
    logits = np.array([[[[0.0]], [[2.0]]]], np.float32)  # [1, 2, 1, 1]
    x = np.array([[[[0.25]], [[1.0]]]], np.float32)
    nll = -dists.likelihood(tf.constant(logits), "bernoulli").log_prob(x).numpy()
    p = 1 / (1 + np.exp(-logits))
    by_hand = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(nll, [by_hand], rtol=1e-5)
    assert nll[0] > 0, "-log p of [0, 1] targets under a Bernoulli is positive"


def test_gaussian_and_continuous_bernoulli_likelihoods():
    logits = tf.zeros([2, 2, 2, 1])
    x = tf.fill([2, 2, 2, 1], 0.5)
    gaussian = dists.likelihood(logits, "gaussian", scale=0.1)
    np.testing.assert_allclose(gaussian.log_prob(x).numpy(), 4 * (-np.log(0.1) - 0.5 * np.log(2 * np.pi)), rtol=1e-5)
    cb = dists.likelihood(logits, "continuous_bernoulli")
    np.testing.assert_allclose(cb.log_prob(x).numpy(), [0.0, 0.0], atol=1e-4), "CB(0.5) is uniform on [0, 1]"
    np.testing.assert_allclose(dists.mean_image(cb).numpy(), 0.5, atol=1e-4)
    with pytest.raises(ValueError, match="unknown likelihood"):
        dists.likelihood(logits, "poisson")


def test_warmup():
    assert float(dists.warmup_factor(0, 0)) == 1.0
    assert [float(dists.warmup_factor(s, 4)) for s in (0, 1, 3, 10)] == [0.25, 0.5, 1.0, 1.0]
    schedule = dists.LinearWarmup(0.01, 10)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 9, 50)], [0.001, 0.01, 0.01], rtol=1e-6)


def test_linear_cost_is_zero_when_the_second_code_doubles_the_first():
    mu_prior = tf.constant([[0.3, -1.0], [2.0, 0.0]])
    mu1 = mu_prior + tf.constant([[0.5, 1.0], [-0.25, 0.0]])
    mu2 = mu_prior + 2.0 * (mu1 - mu_prior)
    np.testing.assert_allclose(linear_cost(mu1, mu2, mu_prior).numpy(), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(linear_cost(mu1, mu1, mu_prior).numpy(), [1.5, 0.25], rtol=1e-6)
