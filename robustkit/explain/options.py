"""Options of the attribution methods (no TensorFlow import here, so configs parse without it).

Each class is the config block of one method in `robustkit.explain.saliency.EXPLAINERS`;
the method's paper is cited on the method's class there.
"""

import dataclasses
from typing import Literal, Optional

Mode = Literal["signed", "positive", "negative", "absolute"]


@dataclasses.dataclass
class ExplainerConfig:
    """Keys every attribution method has.

    Attributes:
      name: the method (see `robustkit.explain.saliency.EXPLAINERS`).
    """

    name: str = ""


@dataclasses.dataclass
class VanillaConfig(ExplainerConfig):
    """Options of ``vanilla`` (the input gradient of the target's logit).

    Attributes:
      mode: signed (the gradient), positive (its positive part), negative (the
        size of its negative part) or absolute (its magnitude).
    """

    name: str = "vanilla"
    mode: Mode = "signed"


@dataclasses.dataclass
class SmoothGradConfig(ExplainerConfig):
    """Options of ``smoothgrad``.

    Attributes:
      samples: noisy copies averaged per image.
      noise: the noise's standard deviation as a fraction of the input range
        (1 for images in [0, 1]); Smilkov et al. recommend 0.1-0.2.
      mode: applied to the averaged gradient, as for ``vanilla``.
      seed: seeds the noise.
    """

    name: str = "smoothgrad"
    samples: int = 25
    noise: float = 0.15
    mode: Mode = "absolute"
    seed: int = 0

    def __post_init__(self):
        if self.samples < 1:
            raise ValueError(f"samples = {self.samples} must be at least 1")
        if self.noise < 0:
            raise ValueError(f"noise = {self.noise} must be >= 0")


@dataclasses.dataclass
class IntegratedGradientsConfig(ExplainerConfig):
    """Options of ``integrated_gradients``.

    Attributes:
      steps: intervals of the straight path from the baseline to the image
        (trapezoidal rule, ``steps + 1`` gradients).
      baseline: the pixel value of the constant baseline image (0: black).
      mode: applied to the attributions, as for ``vanilla``; only ``signed``
        sums to f(image) - f(baseline).
    """

    name: str = "integrated_gradients"
    steps: int = 50
    baseline: float = 0.0
    mode: Mode = "signed"

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps = {self.steps} must be at least 1")
        if not 0.0 <= self.baseline <= 1.0:
            raise ValueError(f"baseline = {self.baseline} must be a pixel value in [0, 1]")


@dataclasses.dataclass
class GradCamConfig(ExplainerConfig):
    """Options of ``gradcam``.

    Attributes:
      layer: the convolution layer whose feature maps are weighted (searched
        inside nested models too); null: the last convolution layer whose
        output is at least ``min_resolution`` pixels wide.
      min_resolution: see ``layer``; 1 takes the very last convolution layer,
        which small inputs shrink to 1x1 (a map without any detail).
    """

    name: str = "gradcam"
    layer: Optional[str] = None
    min_resolution: int = 4

    def __post_init__(self):
        if self.min_resolution < 1:
            raise ValueError(f"min_resolution = {self.min_resolution} must be at least 1")


@dataclasses.dataclass
class GuidedBackpropConfig(ExplainerConfig):
    """Options of ``guided_backprop``.

    Attributes:
      mode: applied to the guided gradient, as for ``vanilla``.
    """

    name: str = "guided_backprop"
    mode: Mode = "signed"
