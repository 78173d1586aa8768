"""Grad-CAM: class activation maps weighted by the gradient of the target's logit.

Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra (2017), "Grad-CAM:
Visual Explanations from Deep Networks via Gradient-based Localization".
For feature maps ``A^k`` of a convolution layer, ``alpha_k = mean_ij d y_t /
d A^k_ij`` and the map is ``ReLU(sum_k alpha_k A^k)``, upsampled bilinearly
to the image size.

The layer's output and the logits must come from one forward pass, also when
the layer sits inside a nested model (MobileNetV2's backbone): the model is
rewired with a `robustkit.explain.rewire.Recorder` around the layer, which
keeps the layer's output of the pass being traced, and the gradient is taken
with respect to it.
"""

import logging
from typing import Dict, Tuple

import tensorflow as tf
import tf_keras as keras

from robustkit.explain import rewire
from robustkit.explain.base import Explainer, signature

log = logging.getLogger(__name__)


def choose_layer(model: keras.Model, name, min_resolution: int) -> keras.layers.Layer:
    """The layer called ``name``, or else the last convolution layer at least ``min_resolution`` wide.

    Raises:
      KeyError: if ``name`` is not a layer of the model, or it has no convolution layer.
    """
    if name is not None:
        return rewire.find_layer(model, name)
    convs = rewire.conv_layers(model)
    if not convs:
        raise KeyError(f"model {model.name!r} has no convolution layer for Grad-CAM")
    wide = [layer for layer in convs if (rewire.output_size(layer) or 0) >= min_resolution]
    return (wide or convs)[-1]


class GradCam(Explainer):
    """Grad-CAM of the named convolution layer, or the last one found (see `choose_layer`).

    Maps are non-negative, ``[B, H, W, C]`` with the one map repeated over the
    channels. `layer_used` tells which layer explained a model.
    """

    needs_layers = True

    def __init__(self, options, max_batch: int = 256):
        super().__init__(options, max_batch)
        self._layers: Dict[int, Tuple[keras.Model, str]] = {}

    @property
    def signed(self) -> bool:
        return False

    def layer_used(self, model: keras.Model) -> str:
        """The name of the layer Grad-CAM weights for ``model``."""
        key = id(model)
        if key not in self._layers:
            self._layers[key] = (model, choose_layer(model, self.options.layer, self.options.min_resolution).name)
        return self._layers[key][1]

    def build(self, model, image_shape):
        logits = rewire.logits_model(model)
        layer = rewire.find_layer(logits, self.layer_used(model))
        recorded, (recorder,) = rewire.recording_model(logits, [layer])
        height, width, channels = image_shape
        log.debug("grad-cam of %s on layer %s", model.name, layer.name)

        def cam(x, t):
            with tf.GradientTape() as tape:
                scores = tf.cast(recorded(x, training=False), tf.float32)
                features = tf.cast(recorder.value, tf.float32)
                chosen = tf.gather(scores, t, batch_dims=1)
            grads = tape.gradient(chosen, features)
            if features.shape.rank != 4:
                raise ValueError(f"layer {layer.name} outputs shape {features.shape}; Grad-CAM needs feature maps")
            alphas = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
            maps = tf.nn.relu(tf.reduce_sum(alphas * features, axis=-1, keepdims=True))
            maps = tf.image.resize(maps, [height, width], method="bilinear")
            return tf.tile(maps, [1, 1, 1, channels])

        return tf.function(cam, input_signature=signature(image_shape))

    def describe(self) -> str:
        where = self.options.layer or f"last conv layer >= {self.options.min_resolution} px"
        return f"gradcam ({where})"
