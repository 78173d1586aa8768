"""IAA (Luo et al., 2018): sensitivity by hand, the distance budget, textured pixels first."""

import numpy as np
import tensorflow as tf

from robustkit.attacks.iaa import IaaConfig, iaa, perceptual_distance, sensitivity
from tests.attacks import tiny


def test_sensitivity_is_one_over_the_3x3_standard_deviation():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, size=(1, 6, 6, 2)).astype("float32")
    sen = sensitivity(tf.constant(image), min_sd=1e-6).numpy()
    for r, c, ch in ((2, 3, 0), (4, 1, 1)):
        patch = image[0, r - 1:r + 2, c - 1:c + 2, ch]
        np.testing.assert_allclose(sen[0, r, c, ch], 1.0 / patch.std(), rtol=1e-3)
    corner = image[0, :2, :2, 0]  # Only the pixels inside the image count.
    np.testing.assert_allclose(sen[0, 0, 0, 0], 1.0 / corner.std(), rtol=1e-3)
    flat = sensitivity(tf.zeros([1, 4, 4, 1]), min_sd=0.01).numpy()
    np.testing.assert_allclose(flat, 100.0)


def test_iaa_stops_within_d_max_and_reports_the_distance_reached():
    model = tiny.trained_cnn()
    x, y = tiny.images(16, seed=8)
    reached = []
    for d_max in (2.0, 6.0):
        attack = iaa(IaaConfig(m=5, delta=0.05, d_max=d_max, max_iterations=500))
        adv = attack(model, x, y).numpy()
        distance = attack.measures(x, adv)["perceptual_distance"]
        sen = sensitivity(tf.constant(x), 0.01)
        np.testing.assert_allclose(distance, perceptual_distance(tf.constant(adv), tf.constant(x), sen).numpy())
        assert distance.max() <= d_max + 1e-4
        # It goes on until the next pixel would pass the budget: the distance ends near D_max.
        step_cost = 0.05 * sen.numpy().reshape(16, -1).max(axis=1)
        assert np.all(distance >= d_max - step_cost - 1e-4)
        reached.append(distance)
    assert np.all(reached[1] > reached[0])


def test_iaa_perturbs_textured_pixels_before_flat_ones():
    model = tiny.trained_cnn()
    x, y = tiny.images(8, seed=9)
    x[:, :, 14:, :] = 0.5  # The right half is flat: sensitivity 1 / min_sd there.
    attack = iaa(IaaConfig(m=5, delta=0.05, d_max=1.0, min_sd=0.01))
    changed = np.abs(attack(model, x, y).numpy() - x) > 0
    assert changed[:, :, :13, :].sum() > 0
    assert changed[:, :, 15:, :].sum() == 0
