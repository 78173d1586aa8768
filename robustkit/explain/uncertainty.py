"""Monte-Carlo dropout: T stochastic forward passes with dropout on and BatchNorm in inference mode.

Gal and Ghahramani (2016), "Dropout as a Bayesian Approximation: Representing
Model Uncertainty in Deep Learning". The measures of
"Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models"
(50 samples per image; its "confidence" is one minus the variance of a class's
probability over the samples) are kept, beside the predictive entropy and the mutual information
between prediction and weights (Houlsby et al., 2011; Smith and Gal, 2018).

How dropout is on while BatchNorm is not: `robustkit.explain.rewire.mc_dropout_model`
copies the model with each dropout layer wrapped in `AlwaysOn`, which calls
the (shared) layer with ``training=True``, and the copy is called with
``training=False``. Every other layer, BatchNorm included, is the trained layer
itself running in inference mode: it normalises with its moving statistics and
never updates them. Calling the whole model with ``training=True`` instead
would normalise with batch statistics and, through Keras's update ops, move
the moving averages.

Batching: the T samples of a batch of images are one forward pass over the
batch tiled T times (each row draws its own dropout masks), sliced so that no
pass exceeds ``max_batch`` images.
"""

import dataclasses
import logging
from typing import List

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.explain import metrics, rewire

log = logging.getLogger(__name__)


@dataclasses.dataclass
class McPredictions:
    """Per-image summaries of T softmax samples.

    Attributes:
      mean: mean softmax, [N, K].
      variance: per-class variance over the samples (denominator T - 1), [N, K].
      expected_entropy: mean over samples of each sample's entropy, [N].
      samples: T.
    """

    mean: np.ndarray
    variance: np.ndarray
    expected_entropy: np.ndarray
    samples: int

    @property
    def predictive_entropy(self) -> np.ndarray:
        """Entropy of the mean softmax (total uncertainty), [N]."""
        return metrics.entropy(self.mean)

    @property
    def mutual_information(self) -> np.ndarray:
        """Predictive entropy minus expected entropy (the model's own uncertainty), [N], >= 0."""
        return np.maximum(self.predictive_entropy - self.expected_entropy, 0.0)

    def confidence(self, classes: np.ndarray) -> np.ndarray:
        """The confidence in ``classes`` (one per image): 1 - their probability's variance.

        The measure of "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models".
        """
        return 1.0 - self.variance[np.arange(len(classes)), classes]

    def predicted(self) -> np.ndarray:
        """The class of highest mean probability, [N]."""
        return np.argmax(self.mean, axis=-1)


def dropout_rates(model: keras.Model) -> List[float]:
    """The rates of the model's dropout layers, in order (nested models included)."""
    return [float(getattr(layer, "rate", 0.0)) for layer in rewire.dropout_layers(model)]


class McDropout:
    """Samples a tf-keras model's softmax T times per image with its dropout layers active.

    Args:
      model: a tf-keras model taking images and returning logits (a softmax
        output layer is bypassed and the softmax applied here).
      samples: T.
      max_batch: the most images in one forward pass.

    Raises:
      robustkit.explain.rewire.RewireError: for a subclassed model.
    """

    def __init__(self, model: keras.Model, samples: int = 50, max_batch: int = 4096):
        if samples < 2:
            raise ValueError(f"samples = {samples} must be at least 2")
        self.samples = samples
        self.max_batch = max_batch
        self.rates = dropout_rates(model)
        if not self.rates or max(self.rates) == 0:
            log.warning("model %s has no active dropout layer: MC dropout samples are all equal", model.name)
        sampler = self._sampler = rewire.mc_dropout_model(rewire.logits_model(model))

        @tf.function(input_signature=[tf.TensorSpec(model.inputs[0].shape, tf.float32),
                                      tf.TensorSpec([], tf.int32)])
        def sample(images, copies):
            tiled = tf.tile(images, tf.concat([[copies], tf.ones([tf.rank(images) - 1], tf.int32)], 0))
            logits = tf.cast(sampler(tiled, training=False), tf.float32)
            probs = tf.nn.softmax(logits, axis=-1)
            return tf.reshape(probs, [copies, tf.shape(images)[0], -1])

        self._sample = sample

    def __call__(self, images: np.ndarray) -> McPredictions:
        """T samples for every image, summarised."""
        images = np.asarray(images, np.float32)
        per_pass = max(1, self.max_batch // self.samples)
        means, variances, entropies = [], [], []
        for start in range(0, len(images), per_pass):
            chunk = tf.constant(images[start:start + per_pass])
            copies = max(1, min(self.samples, self.max_batch // int(chunk.shape[0])))
            draws = [self._sample(chunk, tf.constant(min(copies, self.samples - s), tf.int32)).numpy()
                     for s in range(0, self.samples, copies)]
            probs = np.concatenate(draws, axis=0).astype(np.float64)
            means.append(probs.mean(axis=0))
            variances.append(probs.var(axis=0, ddof=1))
            entropies.append(metrics.entropy(probs).mean(axis=0))
        return McPredictions(np.concatenate(means), np.concatenate(variances), np.concatenate(entropies),
                             self.samples)
