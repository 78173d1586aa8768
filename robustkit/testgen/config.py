"""The config schema of ``python -m robustkit.testgen`` (no TensorFlow import here)."""

import dataclasses
from typing import Literal, Optional

from robustkit.data.options import DataConfig
from robustkit.sections import DistributeConfig, RunConfig


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


@dataclasses.dataclass
class SeedsConfig:
    """Which evaluation images seed the tests.

    Attributes:
      select: random (``count`` in all), per_class (``count`` of every class)
        or correct (``count`` in all, among those the model under test gets right).
      count: seeds in all, or per class for per_class.
    """

    select: Literal["random", "per_class", "correct"] = "per_class"
    count: int = 10

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"seeds.count = {self.count} must be at least 1")


@dataclasses.dataclass
class RadiusConfig:
    """The radius r within which a test keeps its seed's label (Yang et al., 2020).

    Attributes:
      value: r itself; null measures it: half the smallest distance between
        differently labelled training points (``data.train_limit`` of them) in
        the test space and ``norm``, after dropping the ``drop_smallest``
        smallest distances.
      mode: global (one r for all seeds) or local (each seed's own r_s: half
        its distance to the nearest training point of another label, so the
        2 r_s check holds by construction).
      norm: l2 or linf: the ball tests are drawn from and checked against.
      drop_smallest: distances left out when r is measured (duplicates and
        mislabels across classes).
      scale: tests are drawn within ``scale * r`` (at most 1: the check is
        always against r itself).
    """

    value: Optional[float] = None
    mode: Literal["global", "local"] = "global"
    norm: Literal["l2", "linf"] = "l2"
    drop_smallest: int = 0
    scale: float = 1.0

    def __post_init__(self):
        if self.value is not None and self.value <= 0:
            raise ValueError(f"radius.value = {self.value} must be positive, or null to measure it")
        if self.drop_smallest < 0:
            raise ValueError(f"radius.drop_smallest = {self.drop_smallest} must be >= 0")
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"radius.scale = {self.scale} must lie in (0, 1]")
        if self.mode == "local" and self.value is not None:
            raise ValueError("radius.value fixes one r for all seeds; radius.mode = local measures one per seed")


@dataclasses.dataclass
class SamplingConfig:
    """How candidate tests are drawn around a seed.

    Attributes:
      distribution: uniform (in the ball) or truncated_gaussian (a Gaussian
        around the seed whose draws outside the ball are rejected).
      sigma: truncated_gaussian: the typical distance of a draw from the seed,
        as a fraction of the ball's radius.
      per_seed: tests wanted per seed.
      attempts: rounds of ``per_seed`` draws per seed before giving up on it.
    """

    distribution: Literal["uniform", "truncated_gaussian"] = "uniform"
    sigma: float = 0.5
    per_seed: int = 8
    attempts: int = 4

    def __post_init__(self):
        if self.sigma <= 0:
            raise ValueError(f"sampling.sigma = {self.sigma} must be positive")
        if self.per_seed < 1 or self.attempts < 1:
            raise ValueError("sampling.per_seed and sampling.attempts must be at least 1")


@dataclasses.dataclass
class TestgenJob:
    """Everything ``python -m robustkit.testgen`` reads.

    Attributes:
      run: the output directory (``run.dir``, default ``runs/<run.name>``) and the seed of every draw.
      data: seeds come from ``eval_split`` (``eval_limit`` of it), r from
        ``train_split`` (``train_limit`` of it).
      space: latent (draws around the seed's posterior mean in the VAE at
        ``vae``, decoded, kept only if re-encoded within r) or pixel (draws
        within the pixel-space r of the seed image).
      vae: the VAE export for ``space: latent``.
      oracle: a second, independent classifier: the share of tests it gives
        the seed's label estimates how valid the tests' labels are.
      batch_size: images per call to the VAE and the classifiers.
      seeds, radius, sampling: see their sections.
      grid_seeds: seeds drawn in grid.png.
      distribute: the `tf.distribute` strategy whose replicas share the
        classifiers' prediction batches (the VAE and the draws run on one
        device; predictions do not depend on the strategy).
    """

    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(name="testgen"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    space: Literal["latent", "pixel"] = "latent"
    vae: Optional[str] = None
    oracle: Optional[str] = None
    batch_size: int = 256
    seeds: SeedsConfig = dataclasses.field(default_factory=SeedsConfig)
    radius: RadiusConfig = dataclasses.field(default_factory=RadiusConfig)
    sampling: SamplingConfig = dataclasses.field(default_factory=SamplingConfig)
    grid_seeds: int = 10
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)

    def __post_init__(self):
        if self.batch_size < 1 or self.grid_seeds < 0:
            raise ValueError("batch_size must be at least 1 and grid_seeds at least 0")

    def resolve(self) -> "TestgenJob":
        """Fills ``run.dir`` and checks that latent space has a VAE."""
        self.run.resolve()
        if self.space == "latent" and not self.vae:
            raise ValueError("space = latent needs vae: the path of a VAE export, e.g. --set "
                             "vae=saved_models/vae_fashion_mnist")
        return self
