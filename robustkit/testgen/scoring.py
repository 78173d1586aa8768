"""Querying classifiers on generated tests: predictions, accuracy overall and per class, oracle agreement.

Classifiers are loaded with `robustkit.models.loading` (any SavedModel or
Keras file, as ``python -m robustkit.validate_adv`` takes them) in the scope of
the job's strategy, and their prediction batches are shared by its replicas
(`robustkit.replicas.BatchMap`); images are
resized to each model's input size the way the input pipeline resizes them
(bilinear with antialiasing, clipped to [0, 1]).
"""

import logging
from typing import Any, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from robustkit.models.loading import PROBE_EXAMPLES, Model, ModelLoadError, load_model
from robustkit.replicas import BatchMap

log = logging.getLogger(__name__)


def _resize(images: tf.Tensor, size: Optional[int]) -> tf.Tensor:
    if size is None or (images.shape[1] == size and images.shape[2] == size):
        return images
    return tf.clip_by_value(tf.image.resize(images, [size, size], method="bilinear", antialias=True), 0.0, 1.0)


class Classifier:
    """A loaded classifier that predicts labels of float images in [0, 1] of any size, in batches."""

    def __init__(self, name: str, path: str, batch_size: int = 256, batch_map: Optional[BatchMap] = None):
        self.batch_map = batch_map or BatchMap()
        with self.batch_map.scope():  # Each replica has its own copy of the variables.
            self.model: Model = load_model(name, path)
        self.name, self.path = name, self.model.path
        self.batch_size = int(batch_size)
        self._predict: Dict[tuple, Any] = {}

    def check(self, channels: int, num_classes: int) -> None:
        """Fails unless the classifier takes ``channels`` and predicts ``num_classes`` classes."""
        if self.model.channels != channels or self.model.num_classes != num_classes:
            raise ModelLoadError(
                f"model {self.name} ({self.path}) takes {self.model.channels}-channel images and predicts "
                f"{self.model.num_classes} classes; the data has {channels} channel(s) and {num_classes} classes")

    def calibrate(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Settles the input range and output kind on real images (`Model.calibrate`)."""
        probe = _resize(tf.constant(as_float(images[:PROBE_EXAMPLES])), self.model.input_size).numpy()
        self.model.calibrate(probe, labels[:PROBE_EXAMPLES])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """int64 ``[N]`` predicted classes."""
        images = as_float(images)
        shape = images.shape[1:]
        if shape not in self._predict:  # One trace per image shape, any batch size.
            size = self.model.input_size
            self._predict[shape] = tf.function(lambda x: tf.argmax(self.model(_resize(x, size)), axis=-1),
                                               input_signature=[tf.TensorSpec([None, *shape], tf.float32)])
        parts = self.batch_map(self._predict[shape], [(images[start:start + self.batch_size],)
                                                      for start in range(0, len(images), self.batch_size)])
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def as_float(images: np.ndarray) -> np.ndarray:
    """uint8 or float images -> float32 in [0, 1]."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def accuracy(predictions: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> Dict[str, Any]:
    """``accuracy`` and ``count`` overall and ``per_class`` (by true label; null accuracy when a class has no test)."""
    correct = np.asarray(predictions) == np.asarray(labels)
    per_class = {}
    for label, name in enumerate(class_names):
        hits = correct[labels == label]
        per_class[name] = {"count": int(len(hits)), "accuracy": float(hits.mean()) if len(hits) else None}
    return {"count": int(len(correct)), "accuracy": float(correct.mean()) if len(correct) else None,
            "per_class": per_class}
