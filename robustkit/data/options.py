"""The options of every dataset and pair source (no TensorFlow import here).

`DataConfig` holds the keys every dataset has; each dataset's options class
extends it (`robustkit.data.DATASETS`). `PairDataConfig` does the same for the
pair sources of the generative models (`robustkit.data.PAIR_SOURCES`). The
loaders import these classes, so a config validates without loading them.
"""

import dataclasses
from typing import List, Literal, Optional

# The MNIST-C corruptions (`robustkit.data.corruptions`), in ``mnist_corrupted``'s order.
CORRUPTION_NAMES = (
    "identity", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate", "brightness",
    "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
)
# MNIST-C's severity of each corruption that has severities; the others apply one way.
DEFAULT_SEVERITY = {
    "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1, "motion_blur": 1, "shear": 2, "scale": 3,
    "rotate": 2, "brightness": 5, "translate": 3, "fog": 5, "spatter": 4,
}


@dataclasses.dataclass
class AugmentConfig:
    """Training-time augmentation, applied per batch, seeded and reproducible.

    Each op fires per example with its probability; strengths are in pixel units
    of [0, 1]. All probabilities default to 0 (no augmentation). The random crop
    pads by ``crop_padding`` pixels, reflecting the border (``crop_mode:
    reflect``) or with zeros (``zero``), and crops back to the original size.
    With ``corruption_prob``, an example is replaced by one of the MNIST-C
    ``corruptions`` (grayscale images; `robustkit.data.corruptions`), chosen at
    random, at a severity drawn from ``corruption_severities`` (empty: MNIST-C's).
    ``smoothing_sigma`` adds Gaussian noise of that standard deviation to every
    example after all other ops and after the clip to [0, 1], and leaves it
    unclipped: the noise a randomized-smoothing classifier is certified with
    (Cohen, Rosenfeld & Kolter, 2019); 0 (the default) adds none.
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
    corruption_prob: float = 0.0
    corruptions: List[str] = dataclasses.field(default_factory=list)
    corruption_severities: List[int] = dataclasses.field(default_factory=list)
    smoothing_sigma: float = 0.0

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
        for i, name in enumerate(self.corruptions):
            if name not in CORRUPTION_NAMES:
                raise ValueError(f"augment.corruptions[{i}] = {name!r}; expected one of {', '.join(CORRUPTION_NAMES)}")
        if self.corruption_prob > 0 and not self.corruptions:
            raise ValueError(f"augment.corruption_prob = {self.corruption_prob} needs augment.corruptions, a list of "
                             "MNIST-C corruptions")
        if any(not 1 <= s <= 5 for s in self.corruption_severities):
            raise ValueError(f"augment.corruption_severities = {self.corruption_severities} must lie in 1..5")
        if self.smoothing_sigma < 0:
            raise ValueError(f"augment.smoothing_sigma = {self.smoothing_sigma} must be >= 0 (0: no noise)")

    @property
    def enabled(self) -> bool:
        return self.smoothing_sigma > 0 or any(
            getattr(self, f.name) > 0 for f in dataclasses.fields(self) if f.name.endswith("_prob"))


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


@dataclasses.dataclass
class MnistConfig(DataConfig):
    """MNIST: ``dir`` holds the four IDX files or ``mnist.npz``."""

    name: str = "mnist"


@dataclasses.dataclass
class FashionMnistConfig(DataConfig):
    """Fashion-MNIST: ``dir`` holds the four IDX files (``.gz`` or plain)."""

    name: str = "fashion_mnist"


@dataclasses.dataclass
class TinyImageNetConfig(DataConfig):
    """Tiny-ImageNet options.

    Attributes:
      skip_corrupt: drop files that cannot be decoded (with a warning) instead
        of failing.
    """

    name: str = "tiny_imagenet"
    dir: Optional[str] = "data/tiny-imagenet-200"
    eval_split: str = "val"
    skip_corrupt: bool = False


@dataclasses.dataclass
class TfdsConfig(DataConfig):
    """A TFDS dataset; ``dir`` is the TFDS data_dir (null: TFDS's default).

    Attributes:
      builder: the TFDS name, with an optional config and version
        (``mnist``, ``mnist_corrupted/shot_noise``, ``cifar10:3.0.2``). Required.
      download: download and prepare the dataset if it is not prepared yet.
      image_key: the feature holding the image.
      label_key: the feature holding the class label (a ClassLabel).
    """

    name: str = "tfds"
    builder: str = ""
    download: bool = False
    image_key: str = "image"
    label_key: str = "label"


@dataclasses.dataclass
class PairDataConfig:
    """Keys every pair source has; each source's options class extends this.

    Attributes:
      name: the source (`robustkit.data.PAIR_SOURCES`).
      dir: where the data is (the TFDS data_dir, or the IDX directory; null: the default).
      splits: fractions (pool, shuffle and cut) or dataset (the dataset's train and test).
      fractions: the train, val and test shares for ``splits: fractions``.
      pool: the source splits pooled for ``splits: fractions``.
      seed: seeds the split, the corruptions and the rotation angles.
      train_limit: keep at most this many training examples (null: all).
      eval_limit: keep at most this many val and test examples each (null: all).
      images: the images a VAE models: clean (x) or corrupted (x').
      shuffle_buffer: examples in the training shuffle buffer.
    """

    name: str = "corrupted"
    dir: Optional[str] = None
    splits: Literal["fractions", "dataset"] = "fractions"
    fractions: List[float] = dataclasses.field(default_factory=lambda: [0.7, 0.15, 0.15])
    pool: List[Literal["train", "test"]] = dataclasses.field(default_factory=lambda: ["test"])
    seed: int = 0
    train_limit: Optional[int] = None
    eval_limit: Optional[int] = None
    images: Literal["clean", "corrupted"] = "clean"
    shuffle_buffer: int = 10000

    def __post_init__(self):
        if len(self.fractions) != 3 or any(f <= 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-6:
            raise ValueError(f"data.fractions = {self.fractions} must be three positive shares summing to 1")
        if not self.pool or len(set(self.pool)) != len(self.pool):
            raise ValueError(f"data.pool = {self.pool} must name train and/or test, each once")
        for key in ("train_limit", "eval_limit"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"data.{key} = {value} must be a positive number of examples, or null")
        if self.shuffle_buffer < 1:
            raise ValueError(f"data.shuffle_buffer = {self.shuffle_buffer} must be >= 1")


@dataclasses.dataclass
class MnistCorruptedConfig(PairDataConfig):
    """TFDS ``mnist_corrupted``: ``identity`` paired with ``corruption``.

    Attributes:
      corruption: the TFDS config of x' (``shot_noise``, ``rotate``, ...).
      download: let TFDS download and prepare missing configs.
    """

    name: str = "mnist_corrupted"
    corruption: str = "shot_noise"
    download: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.corruption not in CORRUPTION_NAMES:
            raise ValueError(f"data.corruption = {self.corruption!r}; expected one of {', '.join(CORRUPTION_NAMES)}")


@dataclasses.dataclass
class CorruptedConfig(PairDataConfig):
    """A corruption applied here to a registered 28x28 grayscale dataset.

    Attributes:
      dataset: the clean images: fashion_mnist, mnist or mnist_corrupted (its identity config).
      corruption: the MNIST-C corruption of x'.
      severity: 1..5 (null: MNIST-C's severity); null for the corruptions
        MNIST-C applies one way (identity, stripe, dotted_line, zigzag, canny_edges).
      corruptions: several corruptions instead of ``corruption``: the examples
        are dealt to them in equal shares (seeded), so every split holds pairs of
        every kind; ``severity`` then applies to those that have severities.
    """

    name: str = "corrupted"
    dataset: str = "fashion_mnist"
    corruption: str = "shot_noise"
    severity: Optional[int] = None
    corruptions: List[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        super().__post_init__()
        if self.corruption not in CORRUPTION_NAMES:
            raise ValueError(f"data.corruption = {self.corruption!r}; expected one of {', '.join(CORRUPTION_NAMES)}")
        for i, name in enumerate(self.corruptions):
            if name not in CORRUPTION_NAMES:
                raise ValueError(f"data.corruptions[{i}] = {name!r}; expected one of {', '.join(CORRUPTION_NAMES)}")
        if len(set(self.corruptions)) != len(self.corruptions):
            raise ValueError(f"data.corruptions = {self.corruptions} names a corruption twice")
        if self.corruptions:
            return
        if self.severity is not None and not 1 <= self.severity <= 5:
            raise ValueError(f"data.severity = {self.severity} must lie in 1..5, or null")
        if self.severity is not None and self.corruption not in DEFAULT_SEVERITY:
            raise ValueError(f"data.severity = {self.severity}, but corruption {self.corruption!r} has no severities; "
                             "leave it null")


@dataclasses.dataclass
class RotationConfig(PairDataConfig):
    """Rotation bundles (x, rot(x, theta), rot(x, 2 theta)).

    Attributes:
      dataset: the clean images: fashion_mnist, mnist or mnist_corrupted (its identity config).
      theta_max: theta ~ U[-theta_max, theta_max] degrees, drawn per example.
    """

    name: str = "rotation"
    dataset: str = "fashion_mnist"
    theta_max: float = 20.0

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.theta_max <= 90:
            raise ValueError(f"data.theta_max = {self.theta_max} must lie in [0, 90] degrees")
