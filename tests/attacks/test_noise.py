"""Noise: exactly the norm of epsilon inside the box, the same images for every model."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.noise import NoiseConfig, noise


@pytest.mark.parametrize("norm, eps", [("linf", 0.05), ("l2", 0.5)])
@pytest.mark.parametrize("distribution", ["uniform", "gaussian"])
def test_noise_has_the_norm_of_epsilon(norm, eps, distribution):
    x = np.full((4, 8, 8, 3), 0.5, "float32")
    attack = noise(NoiseConfig(norm=norm, distribution=distribution, epsilons=[eps]))
    adv = attack(None, x, np.zeros(4), epsilon=eps, seed=(1, 2)).numpy()
    np.testing.assert_allclose(base.per_example_norm(tf.constant(adv - x), norm).numpy(), eps, rtol=1e-5)
    other = attack(None, x, np.zeros(4), epsilon=eps, seed=(1, 3)).numpy()
    assert not np.allclose(adv, other)
    assert attack.shares_examples  # Made once, scored on every model.


def test_noise_is_clipped_to_the_box():
    x = np.zeros((2, 4, 4, 1), "float32")
    adv = noise(NoiseConfig())(None, x, np.zeros(2), epsilon=0.3, seed=(0, 0)).numpy()
    assert adv.min() == 0.0 and 0 < adv.max() <= 0.3 + 1e-6
