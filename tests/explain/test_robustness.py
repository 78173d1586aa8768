"""Good and bad images: the smallest flipping epsilon, by hand, on a linear model."""

import numpy as np

from robustkit.attacks import build_attack
from robustkit.attacks.gradient import FgsmConfig
from robustkit.explain import robustness
from tests.explain import tiny_models


def test_smallest_flipping_epsilon_of_fgsm_on_a_linear_model():
    # logits = [x . d, 0] with d = +-1 (summing to 0): the margin of label 0 is 16 c for
    # x = 0.5 + c d, and FGSM at epsilon lowers it by 16 epsilon, so it flips once epsilon > c.
    d = np.array([1.0, -1.0] * 8, np.float32)
    model = tiny_models.linear(shape=(4, 4, 1), classes=2)
    model.set_weights([np.stack([d, np.zeros(16, np.float32)], axis=1)])
    c = np.array([0.01, 0.03, 0.07, 0.3, -0.05, 0.12])
    images = (0.5 + c[:, None] * d[None]).reshape(-1, 4, 4, 1).astype(np.float32)
    labels = np.zeros(len(c), np.int64)
    found = robustness.search(build_attack(FgsmConfig()), model, lambda x: model(x, training=False), images, labels,
                              [0.15, 0.02, 0.05, 0.1], batch_size=4, count=3)
    assert found.epsilons == [0.02, 0.05, 0.1, 0.15]
    np.testing.assert_array_equal(found.flip, [0.02, 0.05, 0.1, np.inf, 0.0, 0.15])
    np.testing.assert_allclose(found.margin, 16 * c, rtol=1e-5)
    assert found.good == [3, 5, 2] and found.bad == [0, 1, 2]
    np.testing.assert_allclose(found.accuracy, [4 / 6, 3 / 6, 2 / 6, 1 / 6])
