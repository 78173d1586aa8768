"""Model rewiring (shared weights, swapped layers) and the activation maps built on it."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit.explain import activations, rewire
from tests.explain import tiny_models


def test_rewired_copies_share_every_weight_and_compute_the_same():
    model = tiny_models.nested_cnn()
    x = tiny_models.images(3, (12, 12, 3))
    copy = rewire.rewire(model, lambda layer: None)
    assert copy is not model and len(copy.weights) == len(model.weights)
    assert all(a is b for a, b in zip(copy.weights, model.weights))
    np.testing.assert_array_equal(copy(x, training=False).numpy(), model(x, training=False).numpy())


def test_logits_model_bypasses_a_softmax_layer_or_activation():
    x = tiny_models.images(3, (12, 12, 3))
    model = tiny_models.nested_cnn(softmax=True)
    logits = rewire.logits_model(model)
    np.testing.assert_allclose(tf.nn.softmax(logits(x)).numpy(), model(x).numpy(), rtol=1e-5)
    plain = tiny_models.nested_cnn()
    assert rewire.logits_model(plain) is plain
    image = keras.Input((4,))
    with_layer = keras.Model(image, keras.layers.Softmax()(keras.layers.Dense(3)(image)))
    z = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(rewire.logits_model(with_layer)(z).numpy(), with_layer.layers[1](z).numpy())


def test_guided_relu_gradient_rule():
    x = tf.constant([-1.0, 0.5, 3.0, 7.0, 2.0])
    dy = tf.constant([1.0, 1.0, -1.0, 1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = rewire.guided_relu(x, max_value=6.0)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.5, 3.0, 6.0, 2.0])
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=dy).numpy(), [0.0, 1.0, 0.0, 0.0, 2.0])


def test_subclassed_models_cannot_be_rewired():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Sub()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(rewire.RewireError, match="cannot be rewired"):
        rewire.mc_dropout_model(model)


def test_layers_are_found_inside_nested_models():
    model = tiny_models.nested_cnn()
    assert [layer.name for layer in rewire.conv_layers(model)] == ["conv_a", "conv_b"]
    assert rewire.find_layer(model, "bn_a").name == "bn_a"
    assert [layer.name for layer in rewire.dropout_layers(model)] == ["inner_dropout", "head_dropout"]
    assert rewire.output_size(rewire.find_layer(model, "conv_b")) == 12


def test_activations_are_the_layers_outputs():
    model = tiny_models.nested_cnn()
    x = tiny_models.images(2, (12, 12, 3))
    layers = activations.choose_layers(model, None, 2)
    outputs = activations.Activations(model, layers)(x)
    assert list(outputs) == ["conv_a", "conv_b"]
    backbone = model.get_layer("backbone")
    direct = keras.Model(backbone.inputs, [backbone.get_layer("conv_a").output, backbone.get_layer("conv_b").output])
    expected = direct(x * 2.0 - 1.0)
    np.testing.assert_allclose(outputs["conv_a"], expected[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["conv_b"], expected[1].numpy(), rtol=1e-5, atol=1e-6)


def test_choose_layers_rejects_unknown_and_flat_layers():
    model = tiny_models.nested_cnn()
    assert [layer.name for layer in activations.choose_layers(model, ["conv_b"], 1)] == ["conv_b"]
    with pytest.raises(KeyError, match="no layer 'conv_z'; its convolution layers: conv_a, conv_b"):
        activations.choose_layers(model, ["conv_z"], 1)
    with pytest.raises(KeyError, match="does not output feature maps"):
        activations.choose_layers(model, ["logits"], 1)


def test_tiles_share_one_scale_per_channel():
    maps = np.arange(2 * 2 * 5, dtype=np.float32).reshape(2, 2, 5)
    grid = activations.tile(maps, channels=5)
    assert grid.shape == (2 * 3 - 1, 3 * 3 - 1)  # 2 rows by 3 columns of 2x2 cells, one-pixel gaps
    assert np.isnan(grid[2]).all() and np.nanmin(grid) == 0.0 and np.nanmax(grid) == 1.0
    low, high = activations.tile_together([maps, maps * 2], channels=4)
    assert low.shape == (5, 5) and np.nanmax(low) < 1.0 and np.nanmax(high) == 1.0
