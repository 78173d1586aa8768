"""The config schema of ``python -m robustkit.train`` (no TensorFlow import here)."""

import dataclasses
import os
import re
from typing import List, Literal, Optional

from robustkit.data.options import DataConfig
from robustkit.models.options import ModelConfig
from robustkit.sections import DistributeConfig, ExportConfig, RunConfig


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


def _models():
    from robustkit.models import MODELS

    return MODELS


@dataclasses.dataclass
class ScheduleConfig:
    """The learning-rate schedule within training (or within each phase).

    Attributes:
      name: constant; plateau (multiply by ``factor`` when ``monitor`` has not
        improved by ``min_delta`` for ``patience`` epochs, down to ``min_lr``);
        or piecewise (``values[i]`` from epoch ``boundaries[i - 1]`` on).
      monitor: the logged quantity plateau watches (loss, val_loss, ...).
      factor: plateau's multiplier.
      patience: plateau's epochs without improvement.
      min_delta: plateau's smallest change that counts as improvement.
      min_lr: plateau's floor.
      boundaries: piecewise's epochs where the rate changes, increasing.
      values: piecewise's rates, one more than boundaries.
    """

    name: Literal["constant", "plateau", "piecewise"] = "constant"
    monitor: str = "loss"
    factor: float = 0.1
    patience: int = 2
    min_delta: float = 1e-3
    min_lr: float = 1e-6
    boundaries: List[int] = dataclasses.field(default_factory=list)
    values: List[float] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"train.schedule.factor = {self.factor} must lie in (0, 1)")
        if self.patience < 1:
            raise ValueError(f"train.schedule.patience = {self.patience} must be at least 1")
        if self.name == "piecewise":
            if len(self.values) != len(self.boundaries) + 1:
                raise ValueError(
                    f"train.schedule: piecewise needs one more value than boundaries, got "
                    f"{len(self.values)} values for {len(self.boundaries)} boundaries"
                )
            if any(b <= a for a, b in zip(self.boundaries, self.boundaries[1:])) or any(
                b < 1 for b in self.boundaries
            ):
                raise ValueError(f"train.schedule.boundaries = {self.boundaries} must be increasing epochs >= 1")
            if any(v <= 0 for v in self.values):
                raise ValueError(f"train.schedule.values = {self.values} must be positive")


_TRAINABLE = re.compile(r"^(all|head|top:[1-9][0-9]*)$")


@dataclasses.dataclass
class PhaseConfig:
    """One fine-tuning phase.

    Attributes:
      trainable: what trains: head (the layers after the backbone), top:N (the
        head and the backbone's last N layers) or all.
      learning_rate: the rate the phase starts at.
      epochs: the phase's longest run in epochs; null for the last phase (until
        ``train.epochs``).
      until_plateau: move on early once the training loss has not improved by a
        relative ``min_delta`` for ``patience`` epochs.
      patience: epochs without improvement that end the phase.
      min_delta: relative improvement of the training loss that counts.
    """

    trainable: str = "all"
    learning_rate: float = 0.01
    epochs: Optional[int] = None
    until_plateau: bool = False
    patience: int = 2
    min_delta: float = 0.01

    def __post_init__(self):
        if not _TRAINABLE.match(self.trainable):
            raise ValueError(f"phase trainable = {self.trainable!r}; expected head, top:N (N >= 1) or all")
        if self.learning_rate <= 0:
            raise ValueError(f"phase learning_rate = {self.learning_rate} must be positive")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"phase epochs = {self.epochs} must be at least 1, or null")
        if self.patience < 1:
            raise ValueError(f"phase patience = {self.patience} must be at least 1")


@dataclasses.dataclass
class TrainSection:
    """How the model is fitted.

    Attributes:
      epochs: passes over the training data (or of ``steps_per_epoch`` steps), all phases together.
      batch_size: the global batch, split over all replicas.
      steps_per_epoch: steps per epoch; null for one pass over the data.
      validation_steps: evaluation batches per epoch; null for the whole split.
      optimizer: sgd (with momentum) or adam.
      learning_rate: the initial learning rate (each phase sets its own).
      momentum: SGD momentum.
      schedule: the learning-rate schedule.
      phases: fine-tuning phases in order; empty for one phase training everything.
      precision: float32, mixed_bfloat16 or mixed_float16.
      checkpoint: keep the weights of the best validation accuracy in ``<run.dir>/checkpoints``.
      tensorboard: write TensorBoard logs to ``<run.dir>/tensorboard``.
      progress: progress bars on a terminal (one line per epoch otherwise).
    """

    epochs: int = 10
    batch_size: int = 64
    steps_per_epoch: Optional[int] = None
    validation_steps: Optional[int] = None
    optimizer: Literal["sgd", "adam"] = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    phases: List[PhaseConfig] = dataclasses.field(default_factory=list)
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    checkpoint: bool = True
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self):
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise ValueError(f"train.{key} = {getattr(self, key)} must be at least 1")
        for key in ("steps_per_epoch", "validation_steps"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"train.{key} = {value} must be at least 1, or null")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate = {self.learning_rate} must be positive")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"train.momentum = {self.momentum} must lie in [0, 1)")
        if self.phases:
            if self.schedule.name == "piecewise":
                raise ValueError("train.schedule.name = piecewise cannot be combined with train.phases, "
                                 "which set their own rates; use constant or plateau")
            fixed = sum(p.epochs or 0 for p in self.phases[:-1])
            if any(p.epochs is None for p in self.phases[:-1]):
                raise ValueError("train.phases: every phase but the last needs epochs")
            if fixed >= self.epochs:
                raise ValueError(
                    f"train.phases: the phases before the last take {fixed} epochs, leaving none of "
                    f"train.epochs = {self.epochs} for the last"
                )


@dataclasses.dataclass
class AdversarialConfig:
    """The ``adversarial`` section: NSL adversarial regularisation.

    Attributes:
      enabled: train with adversarial regularisation.
      multiplier: weight of the adversarial loss.
      step_size: the perturbation per step, in pixel units of [0, 1] (epsilon
        for a single step).
      norm: the norm the gradient is normalised in: infinity, l2 or l1.
      pgd_iterations: steps of projected gradient descent (1: a single step).
      pgd_epsilon: the radius PGD projects onto (null: step_size * iterations).
      random_init: start PGD from a random point in the epsilon ball.
    """

    enabled: bool = False
    multiplier: float = 0.2
    step_size: float = 0.05
    norm: Literal["infinity", "l2", "l1"] = "infinity"
    pgd_iterations: int = 1
    pgd_epsilon: Optional[float] = None
    random_init: bool = False

    def __post_init__(self):
        if self.multiplier < 0:
            raise ValueError(f"adversarial.multiplier = {self.multiplier} must be >= 0")
        if self.step_size <= 0:
            raise ValueError(f"adversarial.step_size = {self.step_size} must be positive")
        if self.pgd_iterations < 1:
            raise ValueError(f"adversarial.pgd_iterations = {self.pgd_iterations} must be at least 1")
        if self.pgd_epsilon is not None and self.pgd_epsilon <= 0:
            raise ValueError(f"adversarial.pgd_epsilon = {self.pgd_epsilon} must be positive, or null")
        if self.norm == "l1" and self.pgd_iterations > 1:
            raise ValueError("adversarial.norm = l1 works only with pgd_iterations = 1 (NSL has no L1 projection)")
        if self.norm == "infinity" and self.step_size > 1:
            raise ValueError(f"adversarial.step_size = {self.step_size} exceeds the pixel range [0, 1]")

    @property
    def epsilon(self) -> float:
        """The radius of the perturbation: PGD's epsilon, or the single step."""
        if self.pgd_iterations > 1:
            return self.pgd_epsilon if self.pgd_epsilon is not None else self.step_size * self.pgd_iterations
        return self.step_size


@dataclasses.dataclass
class LearnedSetConfig:
    """The ``learned_set`` section: training against a CVAE's learned perturbation set.

    Wong & Kolter (2020), "Learning perturbation sets for robust machine
    learning": each batch is paired with its images drawn from the set
    {g(x, mu_p + sigma_p u) : ||u|| <= radius} of a ``task: cvae`` export, at
    random (``augment``, data augmentation) or as the classifier's worst case
    found by PGD in the latent ball (``adversarial``, robust training), and the
    loss is ``(1 - weight) * clean + weight * perturbed``.

    Attributes:
      mode: none, augment or adversarial.
      path: the CVAE export (``exported:`` path of its run, or the model root).
      radius: the latent ball's radius, in units of the prior's standard
        deviation (the CVAE's coverage table says which radius holds which
        share of real perturbations).
      iterations: PGD steps per batch (adversarial mode).
      step_size: the L2 length of a PGD step in the latent ball; null: 2.5 * radius / iterations.
      weight: the perturbed images' share of the loss, in [0, 1].
    """

    mode: Literal["none", "augment", "adversarial"] = "none"
    path: Optional[str] = None
    radius: float = 1.0
    iterations: int = 5
    step_size: Optional[float] = None
    weight: float = 0.5

    def __post_init__(self):
        if self.mode != "none" and not self.path:
            raise ValueError(f"learned_set.mode = {self.mode} needs learned_set.path: the export of a task: cvae run "
                             "(e.g. saved_models/cvae_fashion_mnist_corrupted)")
        if self.radius < 0:
            raise ValueError(f"learned_set.radius = {self.radius} must be >= 0")
        if self.iterations < 1:
            raise ValueError(f"learned_set.iterations = {self.iterations} must be at least 1")
        if self.step_size is not None and self.step_size <= 0:
            raise ValueError(f"learned_set.step_size = {self.step_size} must be positive, or null")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"learned_set.weight = {self.weight} must lie in [0, 1]")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"


@dataclasses.dataclass
class TrainJob:
    """Everything ``python -m robustkit.train`` reads from its config."""

    task: Literal["classifier"] = "classifier"
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig, metadata={"registry": _models})
    train: TrainSection = dataclasses.field(default_factory=TrainSection)
    adversarial: AdversarialConfig = dataclasses.field(default_factory=AdversarialConfig)
    learned_set: LearnedSetConfig = dataclasses.field(default_factory=LearnedSetConfig)
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)

    def resolve(self) -> "TrainJob":
        """Fills the defaults that derive from other keys and checks across sections."""
        if self.run.dir is None:
            self.run.dir = os.path.join("runs", self.run.name)
        if self.export.name is None:
            self.export.name = self.run.name
        if self.adversarial.enabled and self.train.precision == "mixed_float16":
            raise ValueError(
                "train.precision = mixed_float16 cannot be used with adversarial.enabled: the gradient with "
                "respect to the input is not loss-scaled, underflows to zero in float16, and the adversarial "
                "examples would be the clean images. Use mixed_bfloat16 or float32."
            )
        if self.learned_set.enabled and self.adversarial.enabled:
            raise ValueError(
                "adversarial.enabled and learned_set.mode = " + self.learned_set.mode + " cannot be combined: "
                "each pairs every batch with its own perturbed copy; train with one of them"
            )
        if self.learned_set.mode == "adversarial" and self.train.precision == "mixed_float16":
            raise ValueError(
                "train.precision = mixed_float16 cannot be used with learned_set.mode = adversarial: the gradient "
                "with respect to the latent code is not loss-scaled and underflows in float16. Use mixed_bfloat16 "
                "or float32."
            )
        return self
