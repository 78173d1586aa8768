"""Loading any classifier as float images in [0, 1] -> logits, with gradients."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit.models import loading
from robustkit.models.loading import ModelLoadError, load_model
from robustkit.training.export import export_model
from tests.attacks import tiny


def _gradient(fn, x):
    @tf.function
    def grad(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(fn(images)[:, 0])
        return tape.gradient(total, images)

    return grad(tf.constant(x)).numpy()


def test_robustkit_exports_load_through_serve_float(tmp_path):
    model = tiny.trained_cnn()
    export_model(model, str(tmp_path / "m"), ["a", "b", "c", "d"], tf.distribute.get_strategy())
    loaded = load_model("ours", str(tmp_path / "m"))
    x, y = tiny.images(16, seed=1)
    loaded.calibrate(x, y)
    assert loaded.path.endswith("/m/1") and loaded.class_names == ["a", "b", "c", "d"]
    assert (loaded.height, loaded.channels, loaded.num_classes, loaded.input_range) == (28, 1, 4, "[0, 1]")
    assert not loaded.probabilities and "signature 'serve_float'" in loaded.notes[0]
    np.testing.assert_allclose(loaded(tf.constant(x)).numpy(), model(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(_gradient(loaded, x), _gradient(model, x), atol=1e-5)
    # The uint8 signature of the same export, made differentiable by retyping its input.
    as_float, _ = loading._float_signature(loaded.path, "serving_default", "test")
    out = as_float(image=tf.constant(x * 255.0))["logits"]
    np.testing.assert_allclose(out.numpy(), model(x).numpy(), atol=1e-4)
    np.testing.assert_allclose(_gradient(lambda i: as_float(image=i * 255.0)["logits"], x), _gradient(model, x),
                               atol=1e-5)


class _Uint8Softmax(tf.Module):
    """A plain TensorFlow classifier: uint8 pixels in, probabilities out."""

    def __init__(self, weights):
        super().__init__()
        self.w = tf.Variable(weights)

    def logits(self, x01):
        return tf.matmul(tf.reshape(x01, [-1, 16]), self.w)

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 1], tf.uint8, name="pixels")])
    def predict(self, pixels):
        return {"scores": tf.nn.softmax(self.logits(tf.cast(pixels, tf.float32) / 255.0)),
                "label": tf.argmax(self.logits(tf.cast(pixels, tf.float32) / 255.0), axis=-1)}


def test_a_uint8_softmax_savedmodel_is_attacked_through_recovered_logits(tmp_path):
    weights = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    module = _Uint8Softmax(weights)
    tf.saved_model.save(module, str(tmp_path / "u8"), signatures={"serving_default": module.predict})
    loaded = load_model("plain", str(tmp_path / "u8"))
    x = np.random.default_rng(1).uniform(0, 1, size=(5, 4, 4, 1)).astype("float32")
    loaded.calibrate(x, np.zeros(5, np.int64))
    assert loaded.probabilities and loaded.input_range == "[0, 255]" and loaded.num_classes == 3
    notes = " ".join(loaded.notes)
    assert "log(probabilities)" in notes and "uint8 input" in notes and "'scores'" in notes
    reference = tf.nn.log_softmax(module.logits(tf.constant(x)))
    np.testing.assert_allclose(loaded(tf.constant(x)).numpy(), reference.numpy(), atol=1e-5)
    grad = _gradient(loaded, x)
    expected = _gradient(lambda images: tf.nn.log_softmax(module.logits(images)), x)
    assert np.abs(grad).min() > 0
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


class _Float255(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")])
    def serve(self, x):
        return {"output_0": self.model(x / 255.0, training=False)}


def test_a_0_255_float_input_is_detected_on_the_probe(tmp_path):
    module = _Float255(tiny.trained_cnn())
    tf.saved_model.save(module, str(tmp_path / "f"), signatures={"serve": module.serve})
    loaded = load_model("f255", str(tmp_path / "f"))
    x, y = tiny.images(64, seed=2)
    loaded.calibrate(x, y)
    assert loaded.input_range == "[0, 255]" and "input range [0, 255] detected" in loaded.notes[-1]
    accuracy = np.mean(np.argmax(loaded(tf.constant(x)).numpy(), axis=-1) == y)
    assert accuracy > 0.9


def _softmax_keras_model():
    base = tiny.trained_cnn()
    return keras.Model(base.input, keras.layers.Softmax(name="probabilities")(base.output)), base


@pytest.mark.parametrize("suffix", [".h5", ".keras", "/savedmodel"])
def test_keras_files_and_keras_savedmodels_with_softmax_outputs(tmp_path, suffix):
    model, base = _softmax_keras_model()
    path = str(tmp_path / "model") + suffix
    model.save(path)
    loaded = load_model("k", path)
    x, y = tiny.images(32, seed=3)
    loaded.calibrate(x, y)
    assert loaded.probabilities and loaded.input_range == "[0, 1]"
    np.testing.assert_allclose(loaded(tf.constant(x)).numpy(), tf.nn.log_softmax(base(x)).numpy(), atol=1e-4)
    assert np.abs(_gradient(loaded, x)).max() > 0


def test_models_that_are_not_image_classifiers_fail_clearly(tmp_path):
    a, b = keras.Input((4, 4, 1), name="a"), keras.Input((4, 4, 1), name="b")
    two = keras.Model([a, b], keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Add()([a, b]))))
    two.save(str(tmp_path / "two.h5"))
    with pytest.raises(ModelLoadError, match="2 inputs and 1 outputs"):
        load_model("two", str(tmp_path / "two.h5"))
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="tf-keras cannot read .*model.export"):
        load_model("broken", str(tmp_path / "broken.keras"))
    flat_in = keras.Input((16,), name="v")
    keras.Model(flat_in, keras.layers.Dense(3)(flat_in)).save(str(tmp_path / "flat.h5"))
    with pytest.raises(ModelLoadError, match=r"expected images \[batch, height, width, channels\]"):
        load_model("flat", str(tmp_path / "flat.h5"))
