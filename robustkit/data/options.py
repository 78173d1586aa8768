"""Config sections shared by every dataset (no TensorFlow import here)."""

import dataclasses
from typing import Literal, Optional


@dataclasses.dataclass
class AugmentConfig:
    """Training-time augmentation, applied per batch, seeded and reproducible.

    Each op fires per example with its probability; strengths are in pixel units
    of [0, 1]. All probabilities default to 0 (no augmentation). The random crop
    pads by ``crop_padding`` pixels, reflecting the border (``crop_mode:
    reflect``) or with zeros (``zero``), and crops back to the original size.
    """

    flip_prob: float = 0.0
    crop_prob: float = 0.0
    crop_padding: int = 4
    crop_mode: Literal["reflect", "zero"] = "reflect"
    jitter_prob: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    gaussian_prob: float = 0.0
    gaussian_std: float = 0.0
    poisson_prob: float = 0.0
    poisson_peak: float = 255.0
    salt_pepper_prob: float = 0.0
    salt_pepper_amount: float = 0.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name.endswith("_prob") and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"augment.{f.name} = {getattr(self, f.name)} is not a probability in [0, 1]")
        if not 0.0 <= self.salt_pepper_amount <= 1.0:
            raise ValueError(f"augment.salt_pepper_amount = {self.salt_pepper_amount} is not a fraction in [0, 1]")
        if self.crop_padding < 0:
            raise ValueError(f"augment.crop_padding = {self.crop_padding} must be >= 0")
        if self.crop_mode not in ("reflect", "zero"):
            raise ValueError(f"augment.crop_mode = {self.crop_mode!r} must be 'reflect' or 'zero'")
        if self.poisson_peak <= 0:
            raise ValueError(f"augment.poisson_peak = {self.poisson_peak} must be > 0")
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"augment.hue = {self.hue} must lie in [0, 0.5]")

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) > 0 for f in dataclasses.fields(self) if f.name.endswith("_prob"))


@dataclasses.dataclass
class DataConfig:
    """Keys every dataset has; each dataset's options class extends this.

    Attributes:
      name: the dataset (see `robustkit.data.DATASETS`).
      dir: where its files are; null means the dataset's default location.
      train_limit: use at most this many training examples (null: all).
      eval_limit: use at most this many evaluation examples (null: all).
      train_split: the split trained on.
      eval_split: the split evaluated on.
      cache: keep decoded images in memory after the first pass.
      shuffle_buffer: examples in the shuffle buffer for training.
      augment: training-time augmentation.
    """

    name: str = "fashion_mnist"
    dir: Optional[str] = None
    train_limit: Optional[int] = None
    eval_limit: Optional[int] = None
    train_split: str = "train"
    eval_split: str = "test"
    cache: bool = True
    shuffle_buffer: int = 10000
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def __post_init__(self):
        for key in ("train_limit", "eval_limit"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ValueError(f"data.{key} = {value} must be a positive number of examples, or null for all")
        if self.shuffle_buffer < 1:
            raise ValueError(f"data.shuffle_buffer = {self.shuffle_buffer} must be >= 1")
