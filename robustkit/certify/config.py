"""The config schema of ``python -m robustkit.certify`` (no TensorFlow import here)."""

import dataclasses
from typing import List, Optional

from robustkit.data.options import DataConfig
from robustkit.sections import DistributeConfig, RunConfig


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


def _check_radii(radii: List[float], key: str) -> None:
    if not radii or any(r < 0 for r in radii):
        raise ValueError(f"{key} = {radii} must be a non-empty list of radii >= 0")


@dataclasses.dataclass
class CertifySection:
    """Randomized smoothing in pixel space (Cohen, Rosenfeld & Kolter, 2019).

    Attributes:
      n: estimation draws per example (CERTIFY's lower bound on p_A).
      n0: selection draws per example (CERTIFY's guess of the top class).
      alpha: the failure probability of every certificate and of PREDICT.
      sigmas: the standard deviations of the Gaussian noise, in pixel units of
        [0, 1]; each model is certified at each of them.
      predict_n: draws per example of PREDICT (the smoothed clean prediction).
      batch_size: noisy copies per forward pass on each replica.
      radii: the L2 radii (pixel units) certified accuracy is reported at.
    """

    n: int = 100_000
    n0: int = 100
    alpha: float = 0.001
    sigmas: List[float] = dataclasses.field(default_factory=lambda: [0.12, 0.25, 0.5])
    predict_n: int = 1000
    batch_size: int = 1000
    radii: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0])

    def __post_init__(self):
        if self.n < 1 or self.n0 < 1 or self.predict_n < 1:
            raise ValueError(f"certify.n = {self.n}, certify.n0 = {self.n0} and certify.predict_n = "
                             f"{self.predict_n} must each be at least 1")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"certify.alpha = {self.alpha} must lie in (0, 1), e.g. 0.001")
        if any(s <= 0 for s in self.sigmas) or len(set(self.sigmas)) != len(self.sigmas):
            raise ValueError(f"certify.sigmas = {self.sigmas} must be distinct positive noise levels "
                             "(pixel units of [0, 1]), e.g. [0.12, 0.25, 0.5]")
        if self.batch_size < 1:
            raise ValueError(f"certify.batch_size = {self.batch_size} must be at least 1")
        _check_radii(self.radii, "certify.radii")


@dataclasses.dataclass
class LatentSection:
    """Randomized smoothing over the latent code of a learned perturbation set (Wong & Kolter, 2020).

    The smoothed classifier draws ``u = sigma * eps`` in the prior's whitened
    units and classifies ``g(x, mu_p(x) + sigma_p(x) * u)``; the certified
    radius is a radius of ``u`` around 0, the unit of the set's coverage table.

    Attributes:
      path: a CVAE export (``python -m robustkit.train`` with ``task: cvae``);
        null: no latent certification.
      sigmas: noise levels in units of the prior's standard deviation.
      radii: latent radii certified accuracy is reported at.
    """

    path: Optional[str] = None
    sigmas: List[float] = dataclasses.field(default_factory=lambda: [0.5, 1.0])
    radii: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.5, 1.0, 1.5, 2.0, 3.0])

    def __post_init__(self):
        if not self.sigmas or any(s <= 0 for s in self.sigmas) or len(set(self.sigmas)) != len(self.sigmas):
            raise ValueError(f"latent.sigmas = {self.sigmas} must be distinct positive noise levels (prior "
                             "standard deviations), e.g. [0.5, 1.0]")
        _check_radii(self.radii, "latent.radii")


@dataclasses.dataclass
class SanitySection:
    """An attack on the smoothed classifier that must fail inside every certified radius.

    PGD in L2 (latent L2 for latent certification) maximises the cross-entropy
    of the smoothed classifier's expected softmax over ``samples`` noise draws
    per step (Salman et al., 2019), within the certified radius of each attacked
    example; PREDICT with ``predict_n`` fresh draws then classifies the attacked
    point. A class other than the certified one (not an abstention) breaks the
    certificate.

    Attributes:
      enabled: run the attack.
      examples: certified examples attacked per model and sigma (the first ones).
      steps: PGD steps.
      samples: noise draws per example in each step's expectation.
      predict_n: PREDICT's draws at the attacked point.
      control_scale: also attack at this multiple of the radius, where success
        is allowed; its success rate shows the attack has force (0: skip).
    """

    enabled: bool = True
    examples: int = 20
    steps: int = 20
    samples: int = 16
    predict_n: int = 1000
    control_scale: float = 2.0

    def __post_init__(self):
        if self.examples < 1 or self.steps < 1 or self.samples < 1 or self.predict_n < 1:
            raise ValueError("sanity.examples, sanity.steps, sanity.samples and sanity.predict_n must each be at "
                             "least 1")
        if self.control_scale < 0:
            raise ValueError(f"sanity.control_scale = {self.control_scale} must be >= 0 (0 skips the control)")


@dataclasses.dataclass
class CertifyJob:
    """Everything ``python -m robustkit.certify`` reads.

    Attributes:
      run: the output directory (``run.dir``, default ``runs/<run.name>``) and
        the seed of every noise draw.
      data: the examples certified: ``eval_split``, its first ``eval_limit``.
      distribute: the strategy the noisy forward passes run under; each replica
        takes whole examples.
      certify: pixel-space smoothing.
      latent: latent-space smoothing over a learned perturbation set.
      sanity: the attack that must fail inside the certified radius.
    """

    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(name="certify"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)
    certify: CertifySection = dataclasses.field(default_factory=CertifySection)
    latent: LatentSection = dataclasses.field(default_factory=LatentSection)
    sanity: SanitySection = dataclasses.field(default_factory=SanitySection)

    def resolve(self) -> "CertifyJob":
        """Fills ``run.dir`` and checks that something is certified."""
        self.run.resolve()
        if not self.certify.sigmas and not self.latent.path:
            raise ValueError("certify.sigmas is empty and latent.path is null: nothing to certify; give pixel noise "
                             "levels (--set certify.sigmas=[0.25]) or a CVAE set (--set latent.path=...)")
        if self.distribute.strategy == "tpu":
            raise ValueError("distribute.strategy = tpu is not supported by certify; use default, one_device, "
                             "mirrored or multi_worker")
        return self
