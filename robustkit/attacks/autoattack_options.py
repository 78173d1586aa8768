"""The options of the AutoAttack family: APGD, FAB, Square and the AutoAttack cascade (no TensorFlow import here).

Each class is the config block of one attack in `robustkit.attacks.ATTACKS`;
its module (`robustkit.attacks.apgd_attack`, `.fab_attack`, `.square_attack`, `.autoattack_cascade`) cites
the paper and builds the attack from it.
"""

import dataclasses
from typing import List, Literal, Optional

from robustkit.attacks.options import Norm, SweepConfig

VERSIONS = ("standard", "plus", "rand")


@dataclasses.dataclass
class ApgdConfig(SweepConfig):
    """Options of ``apgd``.

    Attributes:
      norm: linf or l2.
      loss: ce or dlr (the targeted version always uses the targeted DLR, or
        targeted cross-entropy on models with fewer than 4 classes).
      targeted: run the targeted version (APGD-T) over ``n_target_classes``.
      n_target_classes: targets per example for the targeted version.
      iterations: steps per run (N of the paper; 100 in AutoAttack).
      restarts: runs from random starts; later runs attack only the examples
        earlier ones did not fool.
      rho: the oscillation threshold of the step-size rule.
      eot_iter: gradient draws averaged per step (1: none).
    """

    name: str = "apgd"
    norm: Norm = "linf"
    loss: Literal["ce", "dlr"] = "ce"
    targeted: bool = False
    n_target_classes: int = 9
    iterations: int = 100
    restarts: int = 1
    rho: float = 0.75
    eot_iter: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm = {self.norm!r} is not supported by apgd; expected linf or l2")
        if self.loss not in ("ce", "dlr"):
            raise ValueError(f"loss = {self.loss!r} is not an apgd loss; expected ce or dlr")
        for key in ("iterations", "restarts", "n_target_classes", "eot_iter"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} = {getattr(self, key)} must be at least 1")
        if not 0 < self.rho < 1:
            raise ValueError(f"rho = {self.rho} must lie in (0, 1)")


@dataclasses.dataclass
class FabConfig(SweepConfig):
    """Options of ``fab``.

    Attributes:
      norm: linf or l2.
      targeted: run FAB-T over ``n_target_classes`` targets.
      n_target_classes: targets per example for FAB-T.
      iterations: steps per run.
      restarts: runs per target (the first from the clean image, the others
        from random points at distance epsilon / 2).
      alpha_max: the largest weight of the step from the original image.
      eta: overshoot of each step.
      beta: pull back towards the original image after a success.
    """

    name: str = "fab"
    norm: Norm = "linf"
    targeted: bool = False
    n_target_classes: int = 9
    iterations: int = 100
    restarts: int = 1
    alpha_max: float = 0.1
    eta: float = 1.05
    beta: float = 0.9

    def __post_init__(self):
        super().__post_init__()
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm = {self.norm!r} is not supported by fab; expected linf or l2")
        for key in ("iterations", "restarts", "n_target_classes"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} = {getattr(self, key)} must be at least 1")
        if not 0 <= self.alpha_max <= 1 or self.eta < 1 or not 0 < self.beta <= 1:
            raise ValueError(f"alpha_max = {self.alpha_max}, eta = {self.eta}, beta = {self.beta}: expected "
                             "alpha_max in [0, 1], eta >= 1 and beta in (0, 1]")


@dataclasses.dataclass
class SquareConfig(SweepConfig):
    """Options of ``square``.

    Attributes:
      norm: linf or l2.
      queries: forward passes per example, the starting point included.
      p_init: the initial fraction of the image a window covers.
      rescale_schedule: scale the halving points of p to ``queries`` (the
        paper) instead of using them as they are (AutoAttack).
    """

    name: str = "square"
    norm: Norm = "linf"
    queries: int = 5000
    p_init: float = 0.8
    rescale_schedule: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm = {self.norm!r} is not supported by square; expected linf or l2")
        if self.queries < 1:
            raise ValueError(f"queries = {self.queries} must be at least 1")
        if not 0 < self.p_init <= 1:
            raise ValueError(f"p_init = {self.p_init} must lie in (0, 1]")


@dataclasses.dataclass
class AutoAttackConfig(SweepConfig):
    """Options of ``autoattack``.

    Attributes:
      version: standard, plus or rand (see `robustkit.attacks.autoattack_cascade`).
      norm: linf or l2.
      epsilons: radii in pixel units (AutoAttack's protocol on Fashion-MNIST
        and MNIST uses L-inf 0.1 and 0.3; on CIFAR-10 8/255).
      n_target_classes: targets of APGD-T and FAB-T.
      iterations: APGD and FAB iterations.
      square_queries: Square's query budget.
      eot_iter: gradient draws per step in the rand version.
      seed: the attacks' seed (null: the run's seed).
    """

    name: str = "autoattack"
    version: Literal["standard", "plus", "rand"] = "standard"
    norm: Norm = "linf"
    epsilons: List[float] = dataclasses.field(default_factory=lambda: [0.1])
    n_target_classes: int = 9
    iterations: int = 100
    square_queries: int = 5000
    eot_iter: int = 20
    seed: Optional[int] = None

    def __post_init__(self):
        if self.version not in VERSIONS:
            raise ValueError(f"version = {self.version!r} is not an AutoAttack version; expected one of "
                             f"{', '.join(VERSIONS)}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm = {self.norm!r} is not supported by autoattack; expected linf or l2")
        super().__post_init__()
        for key in ("n_target_classes", "iterations", "square_queries", "eot_iter"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} = {getattr(self, key)} must be at least 1")
