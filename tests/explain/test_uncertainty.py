"""MC dropout: dropout on, BatchNorm frozen in inference mode, and the known answers."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.explain import metrics
from robustkit.explain.uncertainty import McDropout, dropout_rates
from tests.explain import tiny_models


def _bn_state(model):
    bn = model.get_layer("backbone").get_layer("bn_a")
    return [v.numpy().copy() for v in bn.weights]


def test_batchnorm_statistics_are_unchanged_by_mc_sampling():
    model = tiny_models.nested_cnn(inner_dropout=0.3, head_dropout=0.3)
    x = tiny_models.images(6, (12, 12, 3))
    before = _bn_state(model)
    predictions = McDropout(model, samples=20, max_batch=64)(x)
    assert predictions.variance.max() > 1e-6  # dropout was on
    for old, new in zip(before, _bn_state(model)):
        np.testing.assert_array_equal(old, new)
    model(x, training=True)  # what a naive "training=True" pass would do to them
    assert any(not np.array_equal(o, n) for o, n in zip(before, _bn_state(model)))


def test_batchnorm_normalises_with_its_moving_statistics_while_dropout_is_on():
    model = tiny_models.nested_cnn(inner_dropout=0.0, head_dropout=0.0)
    x = tiny_models.images(4, (12, 12, 3))
    predictions = McDropout(model, samples=3)(x)
    np.testing.assert_allclose(predictions.mean, tf.nn.softmax(model(x, training=False)).numpy(), rtol=1e-5)
    assert not np.allclose(predictions.mean, tf.nn.softmax(model(x, training=True)).numpy(), rtol=1e-3)


def test_dropout_zero_gives_zero_variance():
    model = tiny_models.nested_cnn(inner_dropout=0.0, head_dropout=0.0, softmax=True)
    x = tiny_models.images(5, (12, 12, 3))
    predictions = McDropout(model, samples=10)(x)
    np.testing.assert_allclose(predictions.variance, 0.0, atol=1e-12)
    np.testing.assert_allclose(predictions.mutual_information, 0.0, atol=1e-6)
    np.testing.assert_allclose(predictions.mean, model(x).numpy(), rtol=1e-5)  # softmax bypassed, reapplied
    np.testing.assert_allclose(predictions.confidence(np.zeros(5, np.int64)), 1.0)


@pytest.mark.parametrize("max_batch", [4096, 7, 1], ids=["one_pass", "sliced", "one_image_per_pass"])
def test_samples_are_independent_in_every_batching(max_batch):
    model = tiny_models.nested_cnn(inner_dropout=0.5, head_dropout=0.5)
    x = tiny_models.images(3, (12, 12, 3))
    predictions = McDropout(model, samples=8, max_batch=max_batch)(x)
    assert predictions.mean.shape == predictions.variance.shape == (3, 4)
    assert (predictions.variance.sum(axis=1) > 0).all()
    np.testing.assert_allclose(predictions.mean.sum(axis=1), 1.0, rtol=1e-6)
    assert (predictions.mutual_information >= 0).all()
    entropy = metrics.entropy(predictions.mean)
    np.testing.assert_allclose(predictions.predictive_entropy, entropy)
    assert (predictions.expected_entropy <= entropy + 1e-9).all()


def test_dropout_inside_a_nested_model_is_switched_on():
    model = tiny_models.nested_cnn(inner_dropout=0.5, head_dropout=0.0)
    assert dropout_rates(model) == [0.5, 0.0]
    assert McDropout(model, samples=6)(tiny_models.images(2, (12, 12, 3))).variance.max() > 1e-6


def test_two_samples_at_least():
    with pytest.raises(ValueError, match="at least 2"):
        McDropout(tiny_models.nested_cnn(), samples=1)
