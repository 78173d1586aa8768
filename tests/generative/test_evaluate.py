"""Known answers for the perturbation-set measures and the rotation checks."""

import numpy as np
import pytest
import tensorflow as tf

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


class _ShiftCVAE:
    """A hand-made CVAE of brightness shifts, whose measures are known in closed form.

    One latent dimension; the generator adds the code to every pixel, g(x, z) = x + z;
    the prior is N(mean, 0.5^2) for every x; the recognition mean is the shift of mean
    brightness times ``gain``: mu_q(x, y) = gain * (mean(y) - mean(x)).
    """

    STD = 0.5

    def __init__(self, gain=2.0, mean=0.1):
        self.gain, self.MEAN = gain, mean

    class _Prior:
        def __init__(self, x, mean, std):
            self._ones, self._mean, self._std = tf.ones([tf.shape(x)[0], 1]), mean, std

        def mean(self):
            return self._mean * self._ones

        def stddev(self):
            return self._std * self._ones

    def prior(self, x):
        return self._Prior(tf.convert_to_tensor(x), self.MEAN, self.STD)

    def encode(self, x, y):
        shift = tf.reduce_mean(tf.convert_to_tensor(y) - tf.convert_to_tensor(x), axis=[1, 2, 3])
        return self.gain * shift[:, None]

    def generate(self, x, z):
        return tf.convert_to_tensor(x) + tf.reshape(tf.convert_to_tensor(z, tf.float32), [-1, 1, 1, 1])


def _constant_images(levels):
    return np.stack([np.full((28, 28, 1), v, np.uint8) for v in levels])


def test_closure_of_a_hand_made_model_with_known_nonzero_errors():
    # Constant images a (x), b (x rotated by theta) and c (by 2 theta), per example. With gain 2
    # and a prior mean of 0 (closure uses recognition codes as they are):
    # Q(x, P(x, y)) = 2b - a; chained = (2b - a) + 2 (c - b) = 2c - a = Q(x, P(x, z));
    # twice = (2b - a) + 2 (b - a) = 4b - 3a. Every error is a difference of constants, squared.
    a, b, c = np.array([51, 0]), np.array([102, 51]), np.array([204, 153])
    pairs = Pairs(_constant_images(a), _constant_images(b), np.zeros(2, np.int64), "test", ["a"],
                  corrupted2=_constant_images(c), theta=np.zeros(2, np.float32))
    a, b, c = a / 255.0, b / 255.0, c / 255.0
    expected = {
        "reconstruction_mse": (2 * b - a - b) ** 2, "identity_mse": (a - b) ** 2, "chain_mse": 0.0 * a,
        "chain_vs_target_mse": (2 * c - a - c) ** 2, "linear_mse": (4 * b - 3 * a - (2 * c - a)) ** 2,
        "linear_vs_target_mse": (4 * b - 3 * a - c) ** 2, "identity_2theta_mse": (a - c) ** 2,
    }
    result = evaluate.closure(_ShiftCVAE(gain=2.0, mean=0.0), pairs, limit=2)
    assert set(result) == set(expected)
    for key, values in expected.items():
        assert result[key] == pytest.approx(float(np.mean(values)), abs=1e-6), key
    assert result["linear_mse"] > 0.01 and result["reconstruction_mse"] > 0.01


def test_coverage_and_approximation_error_of_a_hand_made_model():
    # Shifts d = mean(y) - mean(x) of 0.2, -0.35 and 0.41. With gain 1 the normalised code is
    # u = (d - 0.1) / 0.5: 0.2, -0.91, 0.62, which also gives x' exactly; the best x' inside
    # radius r is x + 0.1 + 0.5 clip(u, r), so the error is (d - 0.1 - 0.5 clip(u, r))^2.
    x = _constant_images([150, 150, 150])
    y = _constant_images([201, 60, 255])
    d = (y.astype(np.float64) - x).reshape(3, -1).mean(axis=1) / 255.0
    cvae = _ShiftCVAE(gain=1.0)
    pairs = Pairs(x, y, np.zeros(3, np.int64), "test", ["a"])
    radii = [0.5, 1.0, 3.0]
    result = evaluate.perturbation_set_quality(cvae, pairs, limit=3, radii=radii, steps=10)
    distances = np.abs(d - 0.1) / 0.5
    assert result["coverage"] == {f"{r:g}": pytest.approx(np.mean(distances <= r)) for r in radii}
    assert result["coverage"] == {"0.5": pytest.approx(1 / 3), "1": 1.0, "3": 1.0}
    for r in radii:
        best = (d - 0.1 - 0.5 * np.clip((d - 0.1) / 0.5, -r, r)) ** 2
        assert result["approximation_error"][f"{r:g}"] == pytest.approx(float(np.mean(best)), abs=1e-6), r
    assert result["approximation_error"]["0.5"] > 0.01
    assert result["identity_error"] == pytest.approx(float(np.mean(d ** 2)), abs=1e-6)
    assert result["pairs_evaluated"] == 3
