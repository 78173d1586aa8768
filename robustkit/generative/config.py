"""The config schema of ``python -m robustkit.train`` for ``task: vae`` and ``task: cvae``.

This module imports no TensorFlow. The ``data`` block names a pair source
(`robustkit.data.PAIR_SOURCES`: ``mnist_corrupted``, ``corrupted`` or
``rotation``), the ``model`` block a generative model (`MODELS`:
``conv_vae``, ``fc_cvae`` or ``conv_cvae``; options in
`robustkit.generative.options`). When the ``model`` block names none, the task chooses:
``conv_vae`` for ``vae``, ``fc_cvae`` for ``cvae``.
"""

import dataclasses
from typing import Any, Dict, List, Literal, Optional

from robustkit import config as config_lib
from robustkit.data.options import PairDataConfig, RotationConfig
from robustkit.generative.options import ConvCVAEConfig, ConvVAEConfig, FcCVAEConfig, GenerativeModelConfig
from robustkit.registry import Registry
from robustkit.sections import DistributeConfig, ExportConfig, RunConfig

TASKS = ("vae", "cvae")
DEFAULT_MODEL = {"vae": "conv_vae", "cvae": "fc_cvae"}

MODELS = Registry("generative model")
MODELS.register("conv_vae", "robustkit.generative.vae:VAE", ConvVAEConfig)
MODELS.register("fc_cvae", "robustkit.generative.cvae:CVAE", FcCVAEConfig)
MODELS.register("conv_cvae", "robustkit.generative.cvae:CVAE", ConvCVAEConfig)


@dataclasses.dataclass
class GenerativeTrainSection:
    """How a VAE or CVAE is fitted (Adam).

    Attributes:
      epochs: passes over the training data (or of ``steps_per_epoch`` steps).
      batch_size: the global batch, split over all replicas.
      steps_per_epoch: steps per epoch; null for one pass over the data.
      validation_steps: validation batches per epoch; null for the whole split.
      learning_rate: Adam's rate after warm-up.
      lr_warmup_epochs: epochs over which the rate rises linearly from 0 (per step).
      beta: the weight of the KL term (beta-VAE; 1 is the ELBO).
      beta_warmup_epochs: epochs over which beta rises linearly from 0 (per step).
      progress: progress bars on a terminal (one line per epoch otherwise).
      tensorboard: write TensorBoard logs to ``<run.dir>/tensorboard``.
    """

    epochs: int = 10
    batch_size: int = 64
    steps_per_epoch: Optional[int] = None
    validation_steps: Optional[int] = None
    learning_rate: float = 1e-3
    lr_warmup_epochs: float = 0.0
    beta: float = 1.0
    beta_warmup_epochs: float = 0.0
    progress: bool = True
    tensorboard: bool = False

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
        for key in ("beta", "lr_warmup_epochs", "beta_warmup_epochs"):
            if getattr(self, key) < 0:
                raise ValueError(f"train.{key} = {getattr(self, key)} must be >= 0")


@dataclasses.dataclass
class RegulariserConfig:
    """The linear-cost regulariser on rotation bundles (x, x1, x2) of the 1-D rotation design.

    ``weight * |2 (mu1 - mu_prior) - (mu2 - mu_prior)|`` (the L1 norm over latent
    dimensions), where mu1 and mu2 are the recognition means of (x, x1) and
    (x, x2) and mu_prior the prior mean of x; x1 is x rotated by theta, x2 by
    2 theta (``data.theta_max`` bounds theta).

    Attributes:
      enabled: add the term to the loss (needs ``data.name: rotation``).
      weight: lambda, the term's weight.
    """

    enabled: bool = False
    weight: float = 1.0

    def __post_init__(self):
        if self.weight < 0:
            raise ValueError(f"regulariser.weight = {self.weight} must be >= 0")


@dataclasses.dataclass
class EvaluationConfig:
    """What the run measures after training (on the test split) and draws.

    Attributes:
      examples: test examples for coverage, approximation error and closure.
      radii: radii of the normalised latent ball ``||(z - mu_p) / sigma_p|| <= r``
        for the coverage and approximation-error tables (Wong & Kolter, 2020).
      pgd_steps: projected gradient steps of the approximation-error search.
      pgd_step_size: the L2 length of each step (null: 2.5 * radius / steps).
      traversal_examples: rows of the latent-traversal figure.
      samples: images in the random-samples figure.
    """

    examples: int = 1000
    radii: List[float] = dataclasses.field(default_factory=lambda: [0.5, 1.0, 2.0, 3.0, 5.0])
    pgd_steps: int = 20
    pgd_step_size: Optional[float] = None
    traversal_examples: int = 4
    samples: int = 32

    def __post_init__(self):
        if self.examples < 1 or self.pgd_steps < 1:
            raise ValueError("evaluation.examples and evaluation.pgd_steps must be at least 1")
        if not self.radii or any(r <= 0 for r in self.radii):
            raise ValueError(f"evaluation.radii = {self.radii} must be a non-empty list of positive radii")
        if self.pgd_step_size is not None and self.pgd_step_size <= 0:
            raise ValueError(f"evaluation.pgd_step_size = {self.pgd_step_size} must be positive, or null")
        if self.traversal_examples < 1 or self.samples < 1:
            raise ValueError("evaluation.traversal_examples and evaluation.samples must be at least 1")


def _pair_sources():
    from robustkit.data import PAIR_SOURCES

    return PAIR_SOURCES


def _models():
    return MODELS


@dataclasses.dataclass
class GenerativeJob:
    """Everything ``python -m robustkit.train`` reads for ``task: vae`` or ``task: cvae``."""

    task: Literal["vae", "cvae"] = "vae"
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    data: PairDataConfig = dataclasses.field(default_factory=PairDataConfig, metadata={"registry": _pair_sources})
    model: GenerativeModelConfig = dataclasses.field(default_factory=ConvVAEConfig, metadata={"registry": _models})
    train: GenerativeTrainSection = dataclasses.field(default_factory=GenerativeTrainSection)
    regulariser: RegulariserConfig = dataclasses.field(default_factory=RegulariserConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)

    def resolve(self) -> "GenerativeJob":
        """Fills the defaults that derive from other keys and checks across sections."""
        self.run.resolve()
        if self.export.name is None:
            self.export.name = self.run.name
        if self.model.task != self.task:
            fitting = [n for n in MODELS.names() if MODELS.options(n).task == self.task]
            raise ValueError(
                f"model.name = {self.model.name!r} is a {self.model.task.upper()} but task = {self.task!r}; "
                f"task {self.task} takes model.name {' or '.join(fitting)}"
            )
        if self.regulariser.enabled:
            if self.task != "cvae" or not isinstance(self.data, RotationConfig):
                raise ValueError(
                    "regulariser.enabled needs task = cvae and data.name = rotation: the linear-cost term "
                    "compares the latent codes of x rotated by theta and by 2 theta"
                )
        return self


def parse_job(data: Dict[str, Any], source: str) -> GenerativeJob:
    """Validates a raw config mapping, choosing the model by the task when the config names none.

    Raises:
      robustkit.config.ConfigError: for anything that does not fit the schema.
    """
    data = dict(data)
    task = data.get("task", "vae")
    model = data.get("model")
    if task in DEFAULT_MODEL and (model is None or (isinstance(model, dict) and "name" not in model)):
        data["model"] = {**(model or {}), "name": DEFAULT_MODEL[task]}
    return config_lib.parse(GenerativeJob, data, source=source)
