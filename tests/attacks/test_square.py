"""Square: the query budget (counted at the model), the epsilon ball, the p schedule, forward passes only."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.square_attack import SquareConfig, centred_pattern, fraction, square
from robustkit.models.loading import load_model
from tests.attacks import tiny


class _Counting(tf.Module):
    """Counts every image the wrapped model is asked to classify."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.count = tf.Variable(0, dtype=tf.int64)

    def __call__(self, images):
        self.count.assign_add(tf.cast(tf.shape(images)[0], tf.int64))
        return self.model(images, training=False)


def test_the_p_schedule_halves_at_the_reference_iterations():
    p = [float(fraction(tf.constant(i), 0.8, 5000, False)) for i in (0, 10, 11, 50, 51, 201, 501, 1001, 2001, 4001)]
    np.testing.assert_allclose(p, [0.8, 0.8, 0.4, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625])
    # Rescaled to 1000 queries, iteration 100 is iteration 1000 of the reference's 10,000.
    assert float(fraction(tf.constant(101), 0.8, 1000, True)) == pytest.approx(0.8 / 32)


def test_the_l2_window_pattern_has_unit_norm_and_opposite_halves():
    pattern = centred_pattern(5)
    assert pattern.shape == (5, 5) and np.sum(pattern ** 2) == pytest.approx(1.0, rel=1e-6)
    assert np.all(pattern[:2] > 0) and np.all(pattern[2:] < 0)


@pytest.mark.parametrize("norm, small, large", [("linf", 0.01, 0.45), ("l2", 0.1, 8.0)])
def test_square_never_exceeds_its_query_budget_nor_the_ball(norm, small, large):
    model = _Counting(tiny.trained_cnn())
    x, y = tiny.images(8, seed=10)
    attack = square(SquareConfig(norm=norm, queries=60))
    # A radius too small to fool anything: every example spends exactly the budget, and no more.
    adv, fooled, queries = attack.attack(model, tf.constant(x), tf.constant(y), small, (0, 1))
    assert not fooled.any() and np.all(queries == 60) and int(model.count.numpy()) == 8 * 60
    size = base.per_example_norm(tf.constant(adv.numpy() - x), norm).numpy()
    assert size.max() <= small * (1 + 1e-5) and size.min() > 0
    # A large radius: examples stop querying once fooled.
    model.count.assign(0)
    adv, fooled, queries = attack.attack(model, tf.constant(x), tf.constant(y), large, (0, 2))
    assert fooled.any() and queries.max() <= 60 and np.all(queries[~fooled] == 60)
    assert int(model.count.numpy()) <= 8 * 60 and queries.sum() < 8 * 60
    adv = adv.numpy()
    np.testing.assert_array_equal(np.argmax(model(adv).numpy(), -1) != y, fooled)
    size = base.per_example_norm(tf.constant(adv - x), norm).numpy()
    assert size.max() <= large * (1 + 1e-5) and adv.min() >= 0 and adv.max() <= 1


class _Uint8Served(tf.Module):
    """A classifier served as uint8 pixels in, logits out, with no gradient through its input."""

    def __init__(self, weights):
        super().__init__()
        self.w = tf.Variable(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 1], tf.uint8, name="pixels")])
    def serve(self, pixels):
        return {"logits": tf.matmul(tf.reshape(tf.cast(pixels, tf.float32) / 255.0, [-1, 16]), self.w)}


def test_square_fools_a_served_uint8_model_and_a_gradient_free_callable(tmp_path):
    weights = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    module = _Uint8Served(weights)
    tf.saved_model.save(module, str(tmp_path / "served"), signatures={"serving_default": module.serve})
    x = np.random.default_rng(1).uniform(0.2, 0.8, size=(12, 4, 4, 1)).astype("float32")
    y = np.argmax(x.reshape(12, -1) @ weights, axis=1).astype("int64")
    loaded = load_model("served", str(tmp_path / "served"))
    loaded.calibrate(x, y)
    quantised = lambda images: module.serve(tf.cast(tf.round(images * 255.0), tf.uint8))["logits"]  # noqa: E731
    for model in (loaded, quantised):
        adv, fooled, _ = square(SquareConfig(queries=300)).attack(model, tf.constant(x), tf.constant(y), 0.3, (0, 1))
        assert fooled.mean() > 0.9
        assert np.abs(adv.numpy() - x).max() <= 0.3 + 1e-6
