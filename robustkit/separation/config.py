"""The config schema of ``python -m robustkit.separation`` (no TensorFlow import here)."""

import dataclasses
from typing import List, Literal, Optional

from robustkit.data.options import DataConfig
from robustkit.sections import DistributeConfig, RunConfig

PAIRINGS = ("train_train", "test_train")


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


@dataclasses.dataclass
class SeparationJob:
    """Everything ``python -m robustkit.separation`` reads.

    Attributes:
      run: the output directory (``run.dir``, default ``runs/<run.name>``).
      data: the dataset; ``train_limit`` and ``eval_limit`` cap the training
        and evaluation splits (``train_split``, ``eval_split``).
      space: pixel (images, distances in pixel units of [0, 1]) or latent
        (posterior means of the VAE at ``vae``).
      vae: the VAE export for ``space: latent``.
      batch_size: images per call to the VAE's encoder.
      norms: linf and/or l2.
      pairings: train_train (each training point to the nearest training point
        of another label) and/or test_train (each evaluation point to the
        nearest training point of another label), as Yang et al. (2020) report.
      tile_size: queries and references per tile; memory grows with its square.
      arithmetic: auto (int8 for uint8 images on a CPU, float32 otherwise),
        int8 or float32; every choice gives exact distances.
      drop_smallest: leave the k smallest distances out of the statistics
        (duplicates or mislabels across classes, as Yang et al. did).
      percentiles: the percentiles reported.
      closest_pairs: the closest pairs listed and drawn per norm and pairing.
      distribute: the `tf.distribute` strategy whose replicas share the L2
        tile pairs (the L-inf search and the VAE run on one device); every
        pair is computed as on one device, so the distances do not depend on it.
    """

    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(name="separation"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    space: Literal["pixel", "latent"] = "pixel"
    vae: Optional[str] = None
    batch_size: int = 500
    norms: List[Literal["linf", "l2"]] = dataclasses.field(default_factory=lambda: ["linf", "l2"])
    pairings: List[Literal["train_train", "test_train"]] = dataclasses.field(
        default_factory=lambda: list(PAIRINGS))
    tile_size: int = 2048
    arithmetic: Literal["auto", "int8", "float32"] = "auto"
    drop_smallest: int = 0
    percentiles: List[float] = dataclasses.field(default_factory=lambda: [0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0,
                                                                          90.0])
    closest_pairs: int = 6
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)

    def __post_init__(self):
        if not self.norms or len(set(self.norms)) != len(self.norms):
            raise ValueError(f"norms = {self.norms} must name linf and/or l2, each once")
        if not self.pairings or len(set(self.pairings)) != len(self.pairings):
            raise ValueError(f"pairings = {self.pairings} must name train_train and/or test_train, each once")
        if self.tile_size < 1 or self.batch_size < 1:
            raise ValueError("tile_size and batch_size must be at least 1")
        if self.drop_smallest < 0 or self.closest_pairs < 0:
            raise ValueError("drop_smallest and closest_pairs must be >= 0")
        if any(not 0.0 <= p <= 100.0 for p in self.percentiles):
            raise ValueError(f"percentiles = {self.percentiles} must lie in [0, 100]")

    def resolve(self) -> "SeparationJob":
        """Fills ``run.dir`` and checks that latent space has a VAE."""
        self.run.resolve()
        if self.space == "latent" and not self.vae:
            raise ValueError("space = latent needs vae: the path of a VAE export (python -m robustkit.train "
                             "--config configs/vae_fashion_mnist.yaml prints it), e.g. --set vae=saved_models/"
                             "vae_fashion_mnist")
        if self.space == "latent" and self.arithmetic == "int8":
            raise ValueError("arithmetic = int8 works on uint8 images only; latent codes need float32 (or auto)")
        return self
