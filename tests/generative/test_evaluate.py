"""Known answers for the perturbation-set measures and the rotation checks."""

import numpy as np
import pytest

from robustkit.data import corruptions
from robustkit.data.pairs import Pairs
from robustkit.generative import evaluate


def test_coverage_counts_distances_within_each_radius():
    distances = np.array([0.1, 0.5, 0.9, 1.5, 4.0])
    assert evaluate.coverage(distances, [0.5, 1.0, 5.0]) == {"0.5": 0.4, "1": 0.6, "5": 1.0}


def test_traversal_codes_walk_mean_minus_to_plus_sigma():
    codes = evaluate.traversal_codes(np.array([[1.0, 2.0]], np.float32), np.array([[0.5, 3.0]], np.float32))
    np.testing.assert_allclose(codes[0, :, 0], np.linspace(0.5, 1.5, 11), atol=1e-6)
    np.testing.assert_allclose(codes[0, :, 1], 2.0)
    assert codes.shape == (1, 11, 2)


@pytest.mark.parametrize("angles, expected", [
    ([-10, -5, 0, 0, 6, 12], True), ([12, 6, 6.5, 0, -8], True), ([0, 0, 0], False), ([-10, 0, -10], False),
])
def test_is_monotonic(angles, expected):
    assert evaluate.is_monotonic(angles) is expected


def test_estimate_angles_recovers_exact_rotations():
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 4:12, 6:20] = 1.0
    x[0, 12:24, 12:16] = 0.7
    angles = np.array([-30.0, -12.0, 0.0, 7.0, 25.0])
    rotated = corruptions.rotate_batch(np.repeat(x, len(angles), axis=0), angles)
    np.testing.assert_allclose(evaluate.estimate_angles(x, rotated[None])[0], angles)


class _IdentityCVAE:
    """A perfect model of 'no perturbation': g(x, z) = x, P = 0, p(z | x) = N(0, 1)."""

    class _Prior:
        def __init__(self, n):
            self._n = n

        def mean(self):
            return np.zeros((self._n, 1), np.float32)

        def stddev(self):
            return np.ones((self._n, 1), np.float32)

    def prior(self, x):
        return self._Prior(len(x))

    def encode(self, x, y):
        return np.zeros((len(x), 1), np.float32)

    def generate(self, x, z):
        return np.asarray(x)


def test_closure_of_the_identity_model_on_identical_bundles():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    pairs = Pairs(x, x, np.zeros(5, np.int64), "test", ["a"], corrupted2=x, theta=np.zeros(5, np.float32))
    result = evaluate.closure(_IdentityCVAE(), pairs, limit=5)
    assert all(value == 0.0 for value in result.values()), result
    assert set(result) == {"reconstruction_mse", "identity_mse", "chain_mse", "chain_vs_target_mse", "linear_mse",
                           "linear_vs_target_mse", "identity_2theta_mse"}
