"""A --model's Keras form: found, softmax bypassed, checked against the loaded model."""

import numpy as np
import tensorflow as tf

from robustkit.explain import models
from tests.explain import tiny_models


def test_a_keras_file_with_a_softmax_output_gets_its_logits_and_dropout_rates(tmp_path):
    model = tiny_models.nested_cnn(size=12, channels=1, inner_dropout=0.25, head_dropout=0.5, softmax=True)
    model.save(str(tmp_path / "m.keras"))
    x = tiny_models.images(16, (12, 12, 1))
    labels = np.argmax(model(x).numpy(), axis=-1)
    loaded = models.load("m", str(tmp_path / "m.keras"))
    models.settle(loaded, x, labels)
    assert loaded.keras_model is not None and loaded.dropout_rates == [0.25, 0.5]
    assert loaded.label == "m (dropout 0.25, 0.5)" and loaded.model is loaded.keras_model
    logits = loaded.logits(x).numpy()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-7)
    assert any("probabilities" in note for note in loaded.loaded.notes)
    assert any("dropout rates [0.25, 0.5]" in note for note in loaded.notes)
