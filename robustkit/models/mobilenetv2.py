"""MobileNetV2 (Sandler et al., 2018) for images in [0, 1], any input size.

The model rescales its own input to MobileNetV2's [-1, 1], so every epsilon
in robustkit is in pixel units of [0, 1]. One-channel images are repeated to
three channels when pretrained weights need them.
"""

import dataclasses
import os

import tf_keras as keras

from robustkit.errors import UserError
from robustkit.models.options import ModelConfig

# Input sizes and widths for which Keras publishes ImageNet weights.
_IMAGENET_SIZES = (96, 128, 160, 192, 224)
_IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"


class WeightsNotFoundError(UserError, FileNotFoundError):
    """Pretrained weights asked for but not on this machine."""


@dataclasses.dataclass
class MobileNetV2Config(ModelConfig):
    """Options of `mobilenetv2`.

    Attributes:
      alpha: width multiplier.
      dropout: dropout rate before the classification head.
      weights: ``none``, ``imagenet`` (the file Keras caches in
        ``~/.keras/models/``) or a path to a backbone weights file.
      bn_momentum: BatchNorm moving-average momentum. Keras ships 0.999, tuned
        for long ImageNet schedules; over a few thousand steps its moving
        statistics stay near their initial values and evaluation fails.
    """

    name: str = "mobilenetv2"
    input_size: int = 64
    alpha: float = 0.35
    dropout: float = 0.2
    weights: str = "none"
    bn_momentum: float = 0.99

    def __post_init__(self):
        super().__post_init__()
        if self.input_size < 32:
            raise ValueError(f"model.input_size = {self.input_size}: MobileNetV2 needs at least 32 pixels")
        if self.alpha <= 0:
            raise ValueError(f"model.alpha = {self.alpha} must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout = {self.dropout} must lie in [0, 1)")
        if not 0.0 < self.bn_momentum < 1.0:
            raise ValueError(f"model.bn_momentum = {self.bn_momentum} must lie in (0, 1)")
        if self.weights == "imagenet" and self.alpha not in _IMAGENET_ALPHAS:
            raise ValueError(
                f"model.alpha = {self.alpha} has no ImageNet weights; use one of {list(_IMAGENET_ALPHAS)}"
            )


def imagenet_weights_file(alpha: float, input_size: int) -> str:
    """The file name Keras uses for the no-top ImageNet weights."""
    rows = input_size if input_size in _IMAGENET_SIZES else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha:g}_{rows}_no_top.h5"


def _resolve_weights(options: MobileNetV2Config):
    if options.weights == "none":
        return None
    if options.weights == "imagenet":
        name = imagenet_weights_file(options.alpha, options.input_size)
        cache = os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "models")
        path = os.path.join(cache, name)
        if not os.path.isfile(path):
            raise WeightsNotFoundError(
                f"model.weights = imagenet needs the file {name} in {cache}/ and this machine cannot "
                f"download it. Copy it there from a machine with a network ({_WEIGHTS_URL}{name}), "
                "or set model.weights to the path of a weights file, or to none."
            )
        return path
    if not os.path.isfile(options.weights):
        raise WeightsNotFoundError(
            f"model.weights = {options.weights!r}: no such file; expected none, imagenet or a weights file path"
        )
    return options.weights


def build(options: MobileNetV2Config, num_classes: int, channels: int) -> keras.Model:
    """Builds MobileNetV2 with a fresh head; ``image`` in [0, 1] in, logits out."""
    weights = _resolve_weights(options)
    size = options.input_size
    image = keras.Input(shape=(size, size, channels), name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(image)
    backbone_channels = channels
    if channels == 1 and weights is not None:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
        backbone_channels = 3
    backbone = keras.applications.MobileNetV2(
        input_shape=(size, size, backbone_channels),
        alpha=options.alpha,
        include_top=False,
        weights=weights,
        pooling="avg",
    )
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = options.bn_momentum
    x = backbone(x)
    x = keras.layers.Dropout(options.dropout, name="head_dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name="mobilenetv2")
