"""The options of every attack (no TensorFlow import here, so configs validate without it).

Each class is the config block of one attack in `robustkit.attacks.ATTACKS`;
its module (`robustkit.attacks.gradient`, `.lbfgs`, ...) cites the paper and
builds the attack from it. The AutoAttack family's options (APGD, FAB, Square,
AutoAttack) are in `robustkit.attacks.autoattack_options`.
"""

import dataclasses
import math
from typing import List, Literal, Optional

Norm = Literal["linf", "l2"]
Target = Optional[Literal["random", "least_likely"]]


@dataclasses.dataclass
class AttackConfig:
    """Keys every attack has; each attack's options class extends this.

    Attributes:
      name: the attack (see `robustkit.attacks.ATTACKS`).
      max_examples: attack only the first this many evaluation examples (null:
        all); for the slow attacks. Every model still sees the same examples.
    """

    name: str = ""
    max_examples: Optional[int] = None

    def __post_init__(self):
        if self.max_examples is not None and self.max_examples < 1:
            raise ValueError(f"max_examples = {self.max_examples} must be at least 1, or null for all")


@dataclasses.dataclass
class SweepConfig(AttackConfig):
    """An attack run over a list of epsilons.

    Attributes:
      epsilons: radii in the attack's norm, in pixel units of [0, 1]. L-inf
        radii must lie in [0, 1]; L2 radii must be >= 0 and are checked against
        the images' size once it is known (at most sqrt(H * W * C)). Sorted.
    """

    epsilons: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2, 0.3])

    def __post_init__(self):
        super().__post_init__()
        norm = getattr(self, "norm", "linf")
        if not self.epsilons:
            raise ValueError("epsilons is empty; give at least one radius, e.g. [0.0, 0.1]")
        for eps in self.epsilons:
            if not math.isfinite(eps) or eps < 0 or (norm == "linf" and eps > 1):
                bound = {"linf": "[0, 1] (pixel units)", "l2": "[0, sqrt(H * W * C)]"}.get(norm, "[0, inf)")
                raise ValueError(f"epsilon {eps} is outside {bound} for the {norm} norm")
        if len(set(self.epsilons)) != len(self.epsilons):
            raise ValueError(f"epsilons {self.epsilons} repeat a value")
        self.epsilons = sorted(self.epsilons)


@dataclasses.dataclass
class FgsmConfig(SweepConfig):
    """Options of ``fgsm`` (L-inf, one step).

    Attributes:
      targeted: null (away from the label), random or least_likely.
    """

    name: str = "fgsm"
    targeted: Target = None


@dataclasses.dataclass
class FgmConfig(SweepConfig):
    """Options of ``fgm`` (L2, one step); epsilons are L2 radii.

    Attributes:
      targeted: null (away from the label), random or least_likely.
    """

    name: str = "fgm"
    epsilons: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 3.0])
    targeted: Target = None
    norm = "l2"


@dataclasses.dataclass
class PgdConfig(SweepConfig):
    """Options of ``pgd``.

    Attributes:
      norm: linf or l2.
      iterations: gradient steps per run.
      step_size: each step is ``step_size * epsilon / iterations``.
      restarts: independent runs from random starts; per example, a run that
        fools the model wins, then the one with the highest loss.
      random_start: start from a uniform draw in the epsilon ball.
      targeted: null (away from the label), random or least_likely.
      loss: cross_entropy, or margin (Carlini and Wagner's logit margin,
        which does not saturate with the softmax).
    """

    name: str = "pgd"
    norm: Norm = "linf"
    iterations: int = 10
    step_size: float = 2.5
    restarts: int = 1
    random_start: bool = True
    targeted: Target = None
    loss: Literal["cross_entropy", "margin"] = "cross_entropy"

    def __post_init__(self):
        super().__post_init__()
        if self.iterations < 1:
            raise ValueError(f"iterations = {self.iterations} must be at least 1")
        if self.restarts < 1:
            raise ValueError(f"restarts = {self.restarts} must be at least 1")
        if self.step_size <= 0:
            raise ValueError(f"step_size = {self.step_size} must be positive (it is relative to epsilon)")


@dataclasses.dataclass
class TransferConfig(PgdConfig):
    """Options of ``transfer``: PGD's, plus the surrogate.

    Attributes:
      surrogate: a ``--model`` name, or a model path (a SavedModel directory,
        a model root of numbered versions, or a Keras file).
    """

    name: str = "transfer"
    surrogate: str = ""

    def __post_init__(self):
        super().__post_init__()
        if not self.surrogate:
            raise ValueError("surrogate is empty; name one of the --model models, or give a model path")


@dataclasses.dataclass
class NoiseConfig(SweepConfig):
    """Options of ``noise``.

    Attributes:
      norm: linf or l2: the norm the draw is rescaled to.
      distribution: uniform (in [-1, 1] per pixel) or gaussian, before rescaling.
    """

    name: str = "noise"
    norm: Norm = "linf"
    distribution: Literal["uniform", "gaussian"] = "uniform"


@dataclasses.dataclass
class LbfgsConfig(AttackConfig):
    """Options of ``lbfgs``.

    Attributes:
      targeted: how the target class is chosen: random (another class than the
        label) or least_likely (the clean image's lowest logit).
      c_init: the first weight of the distance term.
      c_factor: how far ``c`` moves before the search has bracketed it.
      search_steps: L-BFGS-B runs per example (values of ``c`` tried).
      iterations: L-BFGS-B iterations per run.
    """

    name: str = "lbfgs"
    targeted: Literal["random", "least_likely"] = "random"
    c_init: float = 0.1
    c_factor: float = 10.0
    search_steps: int = 5
    iterations: int = 50

    def __post_init__(self):
        super().__post_init__()
        if self.c_init <= 0:
            raise ValueError(f"c_init = {self.c_init} must be positive")
        if self.c_factor <= 1:
            raise ValueError(f"c_factor = {self.c_factor} must be greater than 1")
        for key in ("search_steps", "iterations"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} = {getattr(self, key)} must be at least 1")


@dataclasses.dataclass
class IaaConfig(AttackConfig):
    """Options of ``iaa``.

    Attributes:
      targeted: null (move away from the label), random or least_likely.
      m: pixels (per channel) perturbed per iteration.
      delta: how far each chosen pixel moves per iteration, in pixel units.
      d_max: the largest perceptual distance allowed.
      sharpness: ``k`` of the soft maximum in ``Gap``.
      min_sd: the floor on the neighbourhood standard deviation.
      max_iterations: a cap on iterations.
    """

    name: str = "iaa"
    targeted: Target = None
    m: int = 10
    delta: float = 0.05
    d_max: float = 10.0
    sharpness: float = 10.0
    min_sd: float = 0.01
    max_iterations: int = 200

    def __post_init__(self):
        super().__post_init__()
        if self.m < 1 or self.max_iterations < 1:
            raise ValueError(f"m = {self.m} and max_iterations = {self.max_iterations} must be at least 1")
        if not 0 < self.delta <= 1:
            raise ValueError(f"delta = {self.delta} must lie in (0, 1]")
        for key in ("d_max", "sharpness", "min_sd"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} = {getattr(self, key)} must be positive")


@dataclasses.dataclass
class NslAttackConfig(SweepConfig):
    """Options of ``nsl``.

    Attributes:
      norm: linf or l2.
      pgd_iterations: NSL's PGD steps (1: a single step of epsilon).
      step_size: with PGD, each step is ``step_size * epsilon / pgd_iterations``.
      random_init: with PGD, NSL's random start in the epsilon ball (NSL draws
        it with stateful random ops, seeded by ``run.seed`` only globally).
    """

    name: str = "nsl"
    norm: Norm = "linf"
    pgd_iterations: int = 1
    step_size: float = 2.5
    random_init: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.pgd_iterations < 1:
            raise ValueError(f"pgd_iterations = {self.pgd_iterations} must be at least 1")
        if self.step_size <= 0:
            raise ValueError(f"step_size = {self.step_size} must be positive")


@dataclasses.dataclass
class CvaeAttackConfig(SweepConfig):
    """Options of ``cvae``.

    Attributes:
      path: the CVAE export (``exported:`` path of a ``task: cvae`` run, or its
        model root of numbered versions).
      epsilons: radii of the normalised latent ball (>= 0).
      iterations: PGD steps in the latent ball.
      step_size: the L2 length of a step in u; null: 2.5 * radius / iterations.
      random_start: start from a uniform point of the ball instead of the prior mean.
    """

    name: str = "cvae"
    path: str = ""
    epsilons: List[float] = dataclasses.field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0])
    iterations: int = 10
    step_size: Optional[float] = None
    random_start: bool = False
    norm = "latent"  # Radii are not pixel distances; not a config key.

    def __post_init__(self):
        super().__post_init__()
        if not self.path:
            raise ValueError("path is empty; give the CVAE export a `task: cvae` training run printed as "
                             "'exported: <path>'")
        if self.iterations < 1:
            raise ValueError(f"iterations = {self.iterations} must be at least 1")
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ValueError(f"step_size = {self.step_size} must be a positive number, or null")
