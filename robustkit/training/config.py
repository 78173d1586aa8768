"""The config schema of ``python -m robustkit.train`` (no TensorFlow import here)."""

import dataclasses
import os
from typing import Literal, Optional

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
class TrainSection:
    """How the model is fitted.

    Attributes:
      epochs: passes over the training data (or of ``steps_per_epoch`` steps).
      batch_size: the global batch, split over all replicas.
      steps_per_epoch: steps per epoch; null for one pass over the data.
      validation_steps: evaluation batches per epoch; null for the whole split.
      optimizer: sgd (with momentum) or adam.
      learning_rate: the initial learning rate.
      momentum: SGD momentum.
      precision: float32, mixed_bfloat16 or mixed_float16.
      checkpoint: keep a checkpoint of the best validation accuracy in the run dir.
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


@dataclasses.dataclass
class TrainJob:
    """Everything ``python -m robustkit.train`` reads from its config."""

    task: Literal["classifier"] = "classifier"
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig, metadata={"registry": _models})
    train: TrainSection = dataclasses.field(default_factory=TrainSection)
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)

    def resolve(self) -> "TrainJob":
        """Fills the defaults that derive from other keys."""
        if self.run.dir is None:
            self.run.dir = os.path.join("runs", self.run.name)
        if self.export.name is None:
            self.export.name = self.run.name
        return self
