"""Draws within balls: always strictly inside, spread like the distribution says."""

import numpy as np
import pytest

from robustkit.testgen import sampling


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("distribution", ["uniform", "truncated_gaussian"])
def test_offsets_lie_strictly_inside_the_ball(norm, distribution):
    rng = np.random.default_rng(0)
    radius = np.linspace(0.1, 2.0, 500)
    offsets = sampling.offsets(rng, 500, 16, radius, norm, distribution, sigma=0.8)
    assert offsets.shape == (500, 16)
    assert np.all(sampling.norms(offsets, norm) < radius)


def test_uniform_l2_fills_the_ball_and_the_gaussian_stays_near_sigma():
    rng = np.random.default_rng(1)
    uniform = sampling.norms(sampling.offsets(rng, 20000, 4, 1.0, "l2"), "l2")
    # Uniform in a 4-ball: P(|x| < t) = t^4.
    assert np.mean(uniform < 0.5) == pytest.approx(0.5 ** 4, abs=0.01)
    gauss = sampling.norms(sampling.offsets(rng, 20000, 64, 1.0, "l2", "truncated_gaussian", sigma=0.3), "l2")
    assert np.median(gauss) == pytest.approx(0.3, rel=0.05)


def test_norms_of_images():
    offsets = np.zeros((2, 3, 3, 1))
    offsets[0, 1, 1, 0] = -0.5
    offsets[1] = 0.1
    np.testing.assert_allclose(sampling.norms(offsets, "linf"), [0.5, 0.1])
    np.testing.assert_allclose(sampling.norms(offsets, "l2"), [0.5, 0.3])
    assert sampling.norms(np.zeros((0, 4)), "l2").shape == (0,)
