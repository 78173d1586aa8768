"""The options of the generative models (no TensorFlow import here).

Each class is the ``model`` block of one model in
`robustkit.generative.config.MODELS`; `robustkit.generative.vae` and
`robustkit.generative.cvae` build the models from them.
"""

import dataclasses
from typing import ClassVar, List, Literal


@dataclasses.dataclass
class GenerativeModelConfig:
    """Keys every generative model has.

    Attributes:
      name: the model (`MODELS`).
      latent_dim: the size of the latent code z (1 or more).
      likelihood: p(x | z): bernoulli (cross-entropy with [0, 1] targets),
        continuous_bernoulli (Loaiza-Ganem & Cunningham, 2019) or gaussian
        (a Normal of fixed ``likelihood_scale`` around the decoded image).
      likelihood_scale: the pixel standard deviation of the gaussian likelihood.
    """

    task: ClassVar[str] = "vae"
    name: str = "conv_vae"
    latent_dim: int = 16
    likelihood: Literal["bernoulli", "continuous_bernoulli", "gaussian"] = "bernoulli"
    likelihood_scale: float = 0.1

    def __post_init__(self):
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim = {self.latent_dim} must be at least 1")
        if self.likelihood_scale <= 0:
            raise ValueError(f"model.likelihood_scale = {self.likelihood_scale} must be positive")


@dataclasses.dataclass
class ConvVAEConfig(GenerativeModelConfig):
    """The convolutional VAE of the test-generation design (Kingma & Welling, 2014).

    Attributes:
      filters: channels of every hidden convolution (``dim`` in the design).
      generate_noise: the standard deviation of the latent noise `generate` adds.
    """

    name: str = "conv_vae"
    filters: int = 32
    generate_noise: float = 0.01

    def __post_init__(self):
        super().__post_init__()
        if self.filters < 1:
            raise ValueError(f"model.filters = {self.filters} must be at least 1")
        if self.generate_noise < 0:
            raise ValueError(f"model.generate_noise = {self.generate_noise} must be >= 0")


@dataclasses.dataclass
class FcCVAEConfig(GenerativeModelConfig):
    """A fully-connected CVAE (Sohn et al., 2015), as Wong & Kolter (2020) use for MNIST.

    Attributes:
      hidden: widths of the hidden layers of the prior, recognition and generator networks.
    """

    task: ClassVar[str] = "cvae"
    name: str = "fc_cvae"
    latent_dim: int = 8
    hidden: List[int] = dataclasses.field(default_factory=lambda: [512, 256])

    def __post_init__(self):
        super().__post_init__()
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"model.hidden = {self.hidden} must be a non-empty list of positive widths")


@dataclasses.dataclass
class ConvCVAEConfig(GenerativeModelConfig):
    """A convolutional CVAE: conv encoders of x and (x, x'), a generator that decodes z beside x's features.

    Attributes:
      filters: channels of the hidden convolutions.
      dense: width of the dense layer between convolutions and latent parameters.
    """

    task: ClassVar[str] = "cvae"
    name: str = "conv_cvae"
    latent_dim: int = 8
    filters: int = 32
    dense: int = 256

    def __post_init__(self):
        super().__post_init__()
        if self.filters < 1 or self.dense < 1:
            raise ValueError(f"model.filters = {self.filters} and model.dense = {self.dense} must be positive")
