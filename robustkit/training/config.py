"""The config schema of ``python -m robustkit.train`` (no TensorFlow import here)."""

import dataclasses
import re
from typing import List, Literal, Optional

from robustkit.data.options import DataConfig
from robustkit.models.options import ModelConfig
from robustkit.sections import DistributeConfig, ExportConfig, RunConfig
from robustkit.training.adversarial_config import AdversarialConfig

__all__ = ["AdversarialConfig", "LearnedSetConfig", "PhaseConfig", "ScheduleConfig", "TrainJob", "TrainSection"]


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
        piecewise (``values[i]`` from epoch ``boundaries[i - 1]`` on); or cyclic
        (one cycle, Smith & Topin 2019, as in Wong et al. 2020: per step, the
        rate rises linearly from 0 to ``train.learning_rate`` over the first
        ``peak`` of training and falls linearly back to 0 at its end).
      monitor: the logged quantity plateau watches (loss, val_loss, ...).
      factor: plateau's multiplier.
      patience: plateau's epochs without improvement.
      min_delta: plateau's smallest change that counts as improvement.
      min_lr: plateau's floor.
      boundaries: piecewise's epochs where the rate changes, increasing.
      values: piecewise's rates, one more than boundaries.
      peak: cyclic's share of training spent rising, in (0, 1).
    """

    name: Literal["constant", "plateau", "piecewise", "cyclic"] = "constant"
    monitor: str = "loss"
    factor: float = 0.1
    patience: int = 2
    min_delta: float = 1e-3
    min_lr: float = 1e-6
    boundaries: List[int] = dataclasses.field(default_factory=list)
    values: List[float] = dataclasses.field(default_factory=list)
    peak: float = 0.4

    def __post_init__(self):
        if not 0.0 < self.peak < 1.0:
            raise ValueError(f"train.schedule.peak = {self.peak} must lie in (0, 1)")
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
      init_from: start from the weights of this export of the same model config
        (``saved_models/<name>``, one of its numbered versions, or a Keras
        model file) instead of random ones, e.g. to fine-tune a robust twin
        from its base; null: random initialisation (or ``model.weights``).
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
    init_from: Optional[str] = None

    def __post_init__(self):
        if self.init_from is not None and not str(self.init_from).strip():
            raise ValueError("train.init_from is empty; give the path of an export, or null")
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
            if self.schedule.name in ("piecewise", "cyclic"):
                raise ValueError(f"train.schedule.name = {self.schedule.name} cannot be combined with train.phases, "
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
        self.run.resolve()
        if self.export.name is None:
            self.export.name = self.run.name
        self._check_adversarial()
        if self.train.init_from and getattr(self.model, "weights", "none") != "none":
            raise ValueError(
                f"train.init_from = {self.train.init_from!r} and model.weights = {self.model.weights!r} cannot be "
                "combined: init_from sets every weight, so the backbone weights would be overwritten; keep one"
            )
        if self.adversarial.enabled and self.train.precision == "mixed_float16":
            raise ValueError(
                "train.precision = mixed_float16 cannot be used with adversarial.enabled: the gradient with "
                "respect to the input is not loss-scaled, underflows to zero in float16, and the adversarial "
                "examples would be the clean images. Use mixed_bfloat16 or float32."
            )
        if self.learned_set.enabled and self.adversarial.enabled:
            raise ValueError(
                f"adversarial.enabled (method {self.adversarial.method}) and learned_set.mode = "
                f"{self.learned_set.mode} cannot be combined: each pairs every batch with its own perturbed copy "
                "and loss; train with one of them"
            )
        if self.learned_set.mode == "adversarial" and self.train.precision == "mixed_float16":
            raise ValueError(
                "train.precision = mixed_float16 cannot be used with learned_set.mode = adversarial: the gradient "
                "with respect to the latent code is not loss-scaled and underflows in float16. Use mixed_bfloat16 "
                "or float32."
            )
        return self

    def _check_adversarial(self) -> None:
        options = self.adversarial
        if options.method != "nsl" and not options.enabled:
            raise ValueError(f"adversarial.method = {options.method} needs adversarial.enabled = true; set it, or "
                             "remove the method to train without adversarial examples")
        if options.enabled and options.epsilon_warmup_epochs >= self.train.epochs:
            raise ValueError(f"adversarial.epsilon_warmup_epochs = {options.epsilon_warmup_epochs} leaves no epoch "
                             f"at the full epsilon within train.epochs = {self.train.epochs}; lower it")
