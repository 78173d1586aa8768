"""MobileNetV2 (Sandler et al., 2018) for images in [0, 1], any input size.

The model rescales its own input to MobileNetV2's [-1, 1], so every epsilon
in robustkit is in pixel units of [0, 1]. One-channel images are repeated to
three channels when pretrained weights need them.
"""

import os

import tf_keras as keras

from robustkit.errors import UserError
from robustkit.models.options import MobileNetV2Config

# Input sizes for which Keras publishes ImageNet weights (widths: `options.IMAGENET_ALPHAS`).
_IMAGENET_SIZES = (96, 128, 160, 192, 224)
_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"


class WeightsNotFoundError(UserError, FileNotFoundError):
    """Pretrained weights asked for but not on this machine."""


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
