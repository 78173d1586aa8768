"""A ``--model`` for explanation: the loaded classifier, and its Keras layers when they can be had.

`robustkit.models.loading.load_model` loads any model PATH as a logits
callable (signature, input range and output kind settled on a probe batch);
the gradient methods and the attacks need nothing more. Grad-CAM, guided
backpropagation, activation maps and MC dropout need the layers: a Keras file
has them, and so does a SavedModel written by Keras 2 (robustkit's exports
are), which tf-keras rebuilds from its ``keras_metadata.pb``. Other SavedModels
(Keras 3 ``export``, plain `tf.Module`) have only traced functions; for them
those parts are skipped with a note in the report.

The Keras model is checked against the loaded one on the probe batch; its
softmax output layer, if any, is made linear and an input range other than
[0, 1] is put in front of it, so it computes the same logits.
"""

import dataclasses
import logging
import os
from typing import Callable, List, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.models import loading
from robustkit.explain import rewire, uncertainty

log = logging.getLogger(__name__)

AGREEMENT = 0.99  # The Keras model must predict like the loaded one on this share of the probe.


@dataclasses.dataclass
class ExplainModel:
    """One ``--model``.

    Attributes:
      name, path: as given (path resolved).
      loaded: the loaded classifier (images in [0, 1] -> logits).
      keras_model: its tf-keras form (logits out, [0, 1] in), or None without layers.
      notes: what was found or skipped, one sentence each.
      dropout_rates: the rates of its dropout layers (empty without layers).
    """

    name: str
    path: str
    loaded: loading.Model
    keras_model: Optional[keras.Model] = None
    notes: List[str] = dataclasses.field(default_factory=list)
    dropout_rates: List[float] = dataclasses.field(default_factory=list)
    _predict: Optional[Callable] = dataclasses.field(default=None, repr=False)

    @property
    def model(self):
        """What gradients and attacks run on: the Keras form if there is one, else the loaded model."""
        return self.keras_model if self.keras_model is not None else self.loaded

    def logits(self, images) -> tf.Tensor:
        """Deterministic logits (dropout off) of float32 images in [0, 1], compiled once."""
        if self._predict is None:
            model = self.model
            call = (lambda x: model(x, training=False)) if self.keras_model is not None else model
            self._predict = tf.function(lambda x: tf.cast(call(x), tf.float32), reduce_retracing=True)
        return self._predict(tf.convert_to_tensor(images, tf.float32))

    @property
    def label(self) -> str:
        """The name, with the dropout rate when there is one.

        The panels of "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models"
        are titled by it.
        """
        rates = sorted(set(self.dropout_rates))
        return f"{self.name} (dropout {', '.join(f'{r:g}' for r in rates)})" if rates else self.name


def load(name: str, path: str) -> ExplainModel:
    """Loads a model and, where it can, its Keras layers (settled later by `settle`).

    Raises:
      robustkit.models.loading.ModelLoadError: if the model cannot be used at all.
    """
    loaded = loading.load_model(name, path)
    model = ExplainModel(name, loaded.path, loaded)
    is_keras_file = os.path.isfile(loaded.path)
    if not is_keras_file and not os.path.isfile(os.path.join(loaded.path, "keras_metadata.pb")):
        model.notes.append("no Keras layers (the SavedModel has no keras_metadata.pb): Grad-CAM, guided "
                           "backpropagation, activation maps and MC dropout are skipped")
        return model
    try:
        model.keras_model = keras.models.load_model(loaded.path, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types here.
        model.notes.append(f"tf-keras cannot rebuild the layers ({type(err).__name__}: {str(err)[:200]}): "
                           "Grad-CAM, guided backpropagation, activation maps and MC dropout are skipped")
    return model


def settle(model: ExplainModel, images: np.ndarray, labels: np.ndarray) -> None:
    """Calibrates the loaded model on a probe batch and checks (and fits) the Keras form against it."""
    model.loaded.calibrate(images, labels)
    model._predict = None
    if model.keras_model is None:
        return
    try:
        form = rewire.logits_model(model.keras_model)
    except rewire.RewireError as err:
        model.keras_model = None
        model.notes.append(f"layers unusable ({err}): Grad-CAM, guided backpropagation, activation maps and MC "
                           "dropout are skipped")
        return
    if form.inputs[0].shape.rank != 4:
        model.keras_model = None
        model.notes.append(f"the Keras model takes input of shape {form.inputs[0].shape}, not [batch, height, width, "
                           "channels]: Grad-CAM, guided backpropagation, activation maps and MC dropout are skipped")
        return
    scale, offset = loading.RANGES[model.loaded.input_range]
    if (scale, offset) != (1.0, 0.0):
        image = keras.Input(form.inputs[0].shape[1:], name="image")
        form = keras.Model(image, form(keras.layers.Rescaling(scale, offset, name="input_range")(image)),
                           name=f"{form.name}_in_0_1")
    probe = tf.constant(images, tf.float32)
    agree = float(np.mean(np.argmax(form(probe, training=False).numpy(), -1)
                          == np.argmax(model.loaded(probe).numpy(), -1)))
    if agree < AGREEMENT:
        model.keras_model = None
        model.notes.append(f"the Keras layers predict like the loaded model on only {agree:.1%} of the probe: "
                           "Grad-CAM, guided backpropagation, activation maps and MC dropout are skipped")
        return
    model.keras_model = form
    model.dropout_rates = uncertainty.dropout_rates(form)
    model.notes.append(f"Keras layers: {len(list(rewire.walk(form)))} layers, dropout rates "
                       f"{model.dropout_rates or 'none'}")
    log.info("model %s: %s", model.name, "; ".join(model.notes + model.loaded.notes))
