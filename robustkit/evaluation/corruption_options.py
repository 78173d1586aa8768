"""The ``corruptions:`` section of ``python -m robustkit.validate_adv`` (no TensorFlow import here).

``corruptions: {}`` scores every model on every MNIST-C corruption (identity
included) at severities 1 to 5; ``robustkit.evaluation.corruption`` does the work.
"""

import dataclasses
from typing import Dict, List, Literal, Optional

from robustkit.config import ConfigError
from robustkit.data.options import CORRUPTION_NAMES

# The corruptions of TFDS cifar10_corrupted (configs <name>_<severity>); identity is the clean split.
CIFAR10_CORRUPTION_NAMES = (
    "identity", "brightness", "contrast", "defocus_blur", "elastic", "fog", "frost", "frosted_glass_blur",
    "gaussian_blur", "gaussian_noise", "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "saturate",
    "shot_noise", "snow", "spatter", "speckle_noise", "zoom_blur",
)


@dataclasses.dataclass
class CorruptionsConfig:
    """The corruption benchmark (Hendrycks & Dietterich, 2019; Mu & Gilmer, 2019).

    Attributes:
      names: the corruptions (null: every one of the source, identity
        included). Identity is the clean evaluation images.
      severities: the severities of corruptions that have them; the others
        (stripe, dotted_line, zigzag, canny_edges) apply once. A stored
        mnist_corrupted has one severity per corruption and ignores this.
      seed: with each example's index, seeds every corruption.
      baseline: the ``--model`` name mCE is relative to (null: the first model).
      dataset: read a stored TFDS set instead of corrupting the evaluation
        images here: mnist_corrupted or cifar10_corrupted (null: build here).
      dir: the TFDS data_dir of ``dataset`` (null: TFDS's default).
      cache_dir: where built sets are kept (null: ``<data.dir>/robustkit_corrupted``
        when data.dir is set and writable, else ``~/.keras/datasets/robustkit_corrupted``).
      workers: processes that build the set (null: every core this process may use).
      batch_size: examples per inference batch (null: the job's batch_size).
      groups: label -> corruptions, each group reported with its own mean
        accuracy and mCE (e.g. ``seen`` and ``held_out``).
    """

    names: Optional[List[str]] = None
    severities: List[int] = dataclasses.field(default_factory=lambda: [1, 2, 3, 4, 5])
    seed: int = 0
    baseline: Optional[str] = None
    dataset: Optional[Literal["mnist_corrupted", "cifar10_corrupted"]] = None
    dir: Optional[str] = None
    cache_dir: Optional[str] = None
    workers: Optional[int] = None
    batch_size: Optional[int] = None
    groups: Dict[str, List[str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        known = self.known_names()
        for i, name in enumerate(self.names or []):
            if name not in known:
                raise ValueError(f"corruptions.names[{i}] = {name!r} is not a corruption of "
                                 f"{self.dataset or 'robustkit'}; known: {', '.join(known)}")
        if self.names is not None and (not self.names or len(set(self.names)) != len(self.names)):
            raise ValueError(f"corruptions.names = {self.names} must name at least one corruption, each once "
                             "(null: all)")
        if not self.severities or len(set(self.severities)) != len(self.severities) or any(
                not 1 <= s <= 5 for s in self.severities):
            raise ValueError(f"corruptions.severities = {self.severities} must be distinct severities in 1..5")
        for key in ("workers", "batch_size"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"corruptions.{key} = {value} must be at least 1, or null")
        for label, members in self.groups.items():
            outside = [m for m in members if m not in self.resolved_names()]
            if not members or outside:
                raise ValueError(f"corruptions.groups.{label} = {members} must list corruptions of "
                                 f"corruptions.names ({', '.join(self.resolved_names())})")

    def known_names(self) -> List[str]:
        """Every corruption the source offers."""
        return list(CIFAR10_CORRUPTION_NAMES if self.dataset == "cifar10_corrupted" else CORRUPTION_NAMES)

    def resolved_names(self) -> List[str]:
        """``names``, or every corruption of the source."""
        return list(self.names) if self.names is not None else self.known_names()

    def check_models(self, models) -> None:
        """Fails unless ``baseline`` is one of the model names.

        Raises:
          robustkit.config.ConfigError: naming the baseline and the models.
        """
        if self.baseline is not None and self.baseline not in models:
            raise ConfigError(f"corruptions.baseline = {self.baseline!r} is not one of the --model names: "
                              f"{', '.join(models)}")
