"""The options of every model (no TensorFlow import here).

`ModelConfig` holds the keys every model has; each model's options class
extends it (`robustkit.models.MODELS`). The builders import these classes, so a
config validates without loading them.
"""

import dataclasses
from typing import List

# Widths for which Keras publishes MobileNetV2 ImageNet weights.
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)


@dataclasses.dataclass
class ModelConfig:
    """Keys every model has; each model's options class extends this.

    Attributes:
      name: the model (see `robustkit.models.MODELS`).
      input_size: the square input resolution; the data pipeline resizes to it.
    """

    name: str = "small_cnn"
    input_size: int = 28

    def __post_init__(self):
        if self.input_size < 8:
            raise ValueError(f"model.input_size = {self.input_size} must be at least 8 pixels")


@dataclasses.dataclass
class SmallCNNConfig(ModelConfig):
    """Options of `small_cnn`.

    Attributes:
      dropout: dropout rate after each convolution block (0.2, 0.25 and 0.3 in
        "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models").
      filters: the channels of each 5x5 convolution block, in order (each block
        halves the resolution); ``[32, 64]`` with ``dense: 1024`` is the MNIST
        network of Madry et al. (2018).
      dense: units of a hidden ReLU layer before the logits; 0 for none.
    """

    name: str = "small_cnn"
    input_size: int = 28
    dropout: float = 0.25
    filters: List[int] = dataclasses.field(default_factory=lambda: [16, 32])
    dense: int = 0

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout = {self.dropout} must lie in [0, 1)")
        if not self.filters or any(f < 1 for f in self.filters):
            raise ValueError(f"model.filters = {self.filters} must be a non-empty list of positive channel counts")
        if self.input_size >> len(self.filters) < 1:
            raise ValueError(f"model.filters has {len(self.filters)} blocks, each halving the resolution; "
                             f"model.input_size = {self.input_size} is too small for that many")
        if self.dense < 0:
            raise ValueError(f"model.dense = {self.dense} must be at least 0 (0: no hidden layer)")


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
        if self.weights == "imagenet" and self.alpha not in IMAGENET_ALPHAS:
            raise ValueError(
                f"model.alpha = {self.alpha} has no ImageNet weights; use one of {list(IMAGENET_ALPHAS)}"
            )
