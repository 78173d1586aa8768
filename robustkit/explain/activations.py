"""The outputs of chosen convolution layers, and their channels tiled into one picture.

"Adversarially-Trained Classifier" and
"Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models"
draw a convolution layer's feature maps for an image and for its adversarial
versions side by side. Layers inside nested models (MobileNetV2's
backbone) are reached by rewiring the model with a
`robustkit.explain.rewire.Recorder` around each chosen layer, so one forward
pass yields all of them.
"""

import math
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.explain import rewire


def choose_layers(model: keras.Model, names: Optional[Sequence[str]], count: int) -> List[keras.layers.Layer]:
    """The layers called ``names``, or else the first ``count`` convolution layers.

    Raises:
      KeyError: for a name that is not a layer of the model (listing its
        convolution layers), or a layer whose output is not feature maps.
    """
    if not names:
        return rewire.conv_layers(model)[:count]
    layers = [rewire.find_layer(model, name) for name in names]
    for layer in layers:
        if rewire.output_size(layer) is None:
            raise KeyError(f"layer {layer.name!r} of model {model.name!r} does not output feature maps "
                           "[batch, height, width, channels]")
    return layers


class Activations:
    """Outputs of ``layers`` of ``model``, in one pass.

    Args:
      model: a tf-keras model.
      layers: layers of it (`choose_layers`).
    """

    def __init__(self, model: keras.Model, layers: Sequence[keras.layers.Layer]):
        self.names = [layer.name for layer in layers]
        self._model, self._recorders = rewire.recording_model(model, list(layers))

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        """layer name -> its output for ``images``, float32 ``[B, h, w, k]``."""
        self._model(tf.constant(images, tf.float32), training=False)
        return {name: rec.value.numpy().astype(np.float32) for name, rec in zip(self.names, self._recorders)}


def tile(maps: np.ndarray, channels: int, low: Optional[np.ndarray] = None,
         high: Optional[np.ndarray] = None) -> np.ndarray:
    """The first ``channels`` feature maps ``[h, w, k]`` as one near-square grid, each scaled to [0, 1].

    Each channel is scaled by ``low`` and ``high`` (per channel; default its own
    minimum and maximum), so several images can share one scale per channel.
    Cells are separated by one pixel of NaN (drawn blank).
    """
    maps = maps[..., :channels].astype(np.float64)
    k = maps.shape[-1]
    low = maps.min(axis=(0, 1)) if low is None else low[:k]
    high = maps.max(axis=(0, 1)) if high is None else high[:k]
    scaled = (maps - low) / np.where(high > low, high - low, 1.0)
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    h, w = maps.shape[:2]
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i in range(k):
        r, c = divmod(i, cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = scaled[..., i]
    return grid


def tile_together(outputs: Sequence[np.ndarray], channels: int) -> List[np.ndarray]:
    """`tile` each of several ``[h, w, k]`` outputs of one layer on a common per-channel scale."""
    stacked = np.stack([o[..., :channels] for o in outputs])
    low, high = stacked.min(axis=(0, 1, 2)), stacked.max(axis=(0, 1, 2))
    return [tile(o, channels, low, high) for o in outputs]
