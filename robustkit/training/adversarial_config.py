"""The ``adversarial`` section of a training config (no TensorFlow import here).

Four methods share the section; each key says which methods read it, and a key
set for a method that ignores it is refused rather than silently dropped.
"""

import dataclasses
import logging
from typing import Literal, Optional

log = logging.getLogger(__name__)

METHODS = ("nsl", "pgd", "trades", "fast")
ROBUST_METHODS = ("pgd", "trades", "fast")

# Deprecated spellings of ``norm``, read as the new one with a warning.
NORM_ALIASES = {"infinity": "linf"}

# attack_mode each method's paper (or its reference code) uses while crafting.
DEFAULT_ATTACK_MODE = {"nsl": "train", "pgd": "train", "trades": "eval", "fast": "train"}

_NSL_ONLY = {"multiplier": 0.2, "pgd_iterations": 1, "pgd_epsilon": None, "random_init": False}
_ROBUST_ONLY = {"epsilon": None, "iterations": None, "random_start": None, "clean_weight": 0.0, "beta": 6.0,
                "epsilon_warmup_epochs": 0, "guard": None}


@dataclasses.dataclass
class AdversarialConfig:
    """The ``adversarial`` section: which adversarial training, and its attack.

    Methods (``method``):
      nsl: NSL's adversarial regularisation (Goodfellow et al., 2015; Bui et
        al., 2018): ``loss(x) + multiplier * loss(x_adv)``, ``x_adv`` one
        gradient step of ``step_size`` or NSL's PGD (``pgd_iterations``,
        ``pgd_epsilon``, ``random_init``).
      pgd: Madry et al. (2018), "Towards Deep Learning Models Resistant to
        Adversarial Attacks": the loss on PGD examples (``iterations`` steps of
        ``step_size`` in the ``epsilon`` ball, ``random_start``), mixed with the
        clean loss by ``clean_weight``.
      trades: Zhang et al. (2019), "Theoretically Principled Trade-off between
        Robustness and Accuracy": ``CE(x) + beta * KL(p(x) || p(x'))`` with x'
        maximising the KL by PGD from ``x + 0.001 * N(0, 1)``.
      fast: Wong, Rice & Kolter (2020), "Fast is better than free": one FGSM
        step of ``step_size`` (default 1.25 * epsilon) from a uniform start in
        the ball, with a guard against catastrophic overfitting (``guard*``).

    ``attack_mode`` is whether BatchNorm and dropout run in training (``train``)
    or inference (``eval``) mode while the attack is crafted. Defaults follow
    each method's reference code: nsl train (NSL calls the model as the step
    does; eval is not available), pgd train (Madry et al.; Rice et al.'s code),
    trades eval (Zhang et al.'s code), fast train (Wong et al.'s code).

    Attributes:
      enabled: train adversarially.
      method: nsl, pgd, trades or fast.
      norm: linf or l2 (nsl also takes l1); null: linf. ``infinity``, NSL's
        own name for linf, is deprecated: it is read as linf, with a warning.
      step_size: the step per iteration in pixel units; null: 0.05 for nsl,
        2.5 * epsilon / iterations for pgd and trades, 1.25 * epsilon for fast.
      attack_mode: train or eval (see above); null: the method's default.
      multiplier: nsl: weight of the adversarial loss.
      pgd_iterations: nsl: steps of NSL's PGD (1: a single step).
      pgd_epsilon: nsl: the radius NSL's PGD projects onto (null: step_size * iterations).
      random_init: nsl: start NSL's PGD from a random point in the ball.
      epsilon: pgd, trades, fast: the radius, in pixel units of [0, 1] (required).
      iterations: pgd, trades: attack steps; null: 10.
      random_start: pgd, fast: start from a uniform draw in the ball; trades:
        from x + 0.001 * N(0, 1). Null: true.
      clean_weight: pgd: share of the clean loss, ``(1 - w) * adv + w * clean``.
      beta: trades: weight of the KL term.
      epsilon_warmup_epochs: pgd, trades, fast: epsilon (and the step) rise
        linearly from 0 over this many epochs.
      guard: pgd, trades, fast: check PGD accuracy on a fixed training batch
        after every epoch, keep the best weights by it, roll back and stop when
        it collapses; null: true for fast, false otherwise.
      guard_examples: the fixed batch's size.
      guard_iterations: the check's PGD steps (step 2.5 * epsilon / iterations, no random start).
      guard_drop: a fall of PGD accuracy below the best by more than this is a collapse.
      guard_gap: accuracy under the method's own training attack above the PGD
        accuracy, on the same batch, by more than this is a collapse (the
        training attack no longer finds what PGD finds), checked from the second
        epoch and after the epsilon warm-up; 1.0 turns it off.
    """

    enabled: bool = False
    method: Literal["nsl", "pgd", "trades", "fast"] = "nsl"
    norm: Optional[Literal["linf", "l2", "l1"]] = dataclasses.field(default=None, metadata={"aliases": NORM_ALIASES})
    step_size: Optional[float] = None
    attack_mode: Optional[Literal["train", "eval"]] = None
    multiplier: float = 0.2
    pgd_iterations: int = 1
    pgd_epsilon: Optional[float] = None
    random_init: bool = False
    epsilon: Optional[float] = None
    iterations: Optional[int] = None
    random_start: Optional[bool] = None
    clean_weight: float = 0.0
    beta: float = 6.0
    epsilon_warmup_epochs: int = 0
    guard: Optional[bool] = None
    guard_examples: int = 512
    guard_iterations: int = 10
    guard_drop: float = 0.2
    guard_gap: float = 0.3

    def __post_init__(self):
        if self.norm in NORM_ALIASES:
            log.warning("adversarial.norm = %s is deprecated; write %s instead", self.norm, NORM_ALIASES[self.norm])
            self.norm = NORM_ALIASES[self.norm]
        if self.method == "nsl":
            self._resolve_nsl()
        else:
            self._resolve_robust()
        if self.step_size <= 0:
            raise ValueError(f"adversarial.step_size = {self.step_size} must be positive")
        if self.norm == "linf" and self.step_size > 1:
            raise ValueError(f"adversarial.step_size = {self.step_size} exceeds the pixel range [0, 1]")
        if self.guard_examples < 1 or self.guard_iterations < 1:
            raise ValueError("adversarial.guard_examples and adversarial.guard_iterations must be at least 1, got "
                             f"{self.guard_examples} and {self.guard_iterations}")
        if not 0.0 < self.guard_drop <= 1.0:
            raise ValueError(f"adversarial.guard_drop = {self.guard_drop} must lie in (0, 1]")
        if not 0.0 < self.guard_gap <= 1.0:
            raise ValueError(f"adversarial.guard_gap = {self.guard_gap} must lie in (0, 1]")

    def _refuse_keys(self, keys: dict, methods: str) -> None:
        for key, default in keys.items():
            if getattr(self, key) != default:
                raise ValueError(
                    f"adversarial.{key} = {getattr(self, key)!r} has no meaning for adversarial.method = "
                    f"{self.method}: it is read only by {methods}; remove it or choose one of those methods"
                )

    def _resolve_nsl(self) -> None:
        self._refuse_keys(_ROBUST_ONLY, "pgd, trades and fast")
        if self.attack_mode == "eval":
            raise ValueError("adversarial.attack_mode = eval is not available with method nsl: NSL's wrapper calls "
                             "the model in the mode of the training step; use train, or method pgd, trades or fast")
        self.attack_mode = "train"
        self.norm = self.norm or "linf"
        self.step_size = 0.05 if self.step_size is None else self.step_size
        if self.multiplier < 0:
            raise ValueError(f"adversarial.multiplier = {self.multiplier} must be >= 0")
        if self.pgd_iterations < 1:
            raise ValueError(f"adversarial.pgd_iterations = {self.pgd_iterations} must be at least 1")
        if self.pgd_epsilon is not None and self.pgd_epsilon <= 0:
            raise ValueError(f"adversarial.pgd_epsilon = {self.pgd_epsilon} must be positive, or null")
        if self.norm == "l1" and self.pgd_iterations > 1:
            raise ValueError("adversarial.norm = l1 works only with pgd_iterations = 1 (NSL has no L1 projection)")

    def _resolve_robust(self) -> None:
        self._refuse_keys(_NSL_ONLY, "method nsl")
        method = self.method
        if self.norm == "l1":
            raise ValueError(f"adversarial.norm = l1 is not a norm of method {method}: expected linf or l2 (l1 is "
                             "read only by method nsl)")
        self.norm = self.norm or "linf"
        if self.epsilon is None or self.epsilon <= 0:
            raise ValueError(f"adversarial.method = {method} needs adversarial.epsilon, the radius in pixel units of "
                             f"[0, 1] (e.g. 0.1 for Fashion-MNIST in linf), got {self.epsilon}")
        if method == "fast":
            if self.iterations not in (None, 1):
                raise ValueError(f"adversarial.iterations = {self.iterations} with method fast: fast takes one step; "
                                 "use method pgd for more")
            self.iterations = 1
        elif self.iterations is None:
            self.iterations = 10
        if self.iterations < 1:
            raise ValueError(f"adversarial.iterations = {self.iterations} must be at least 1")
        if self.step_size is None:
            self.step_size = 1.25 * self.epsilon if method == "fast" else 2.5 * self.epsilon / self.iterations
        self.random_start = True if self.random_start is None else self.random_start
        if method == "trades" and not self.random_start:
            raise ValueError("adversarial.random_start = false cannot be used with method trades: the KL term is at "
                             "its minimum at x' = x, where its gradient is zero, so PGD from x would never move")
        self.attack_mode = self.attack_mode or DEFAULT_ATTACK_MODE[method]
        self.guard = (method == "fast") if self.guard is None else self.guard
        if method != "pgd" and self.clean_weight != 0.0:
            raise ValueError(f"adversarial.clean_weight = {self.clean_weight} is read only by method pgd "
                             f"({method} has its own clean term or none)")
        if not 0.0 <= self.clean_weight <= 1.0:
            raise ValueError(f"adversarial.clean_weight = {self.clean_weight} must lie in [0, 1]")
        if method != "trades" and self.beta != 6.0:
            raise ValueError(f"adversarial.beta = {self.beta} is read only by method trades")
        if self.beta < 0:
            raise ValueError(f"adversarial.beta = {self.beta} must be >= 0")
        if self.epsilon_warmup_epochs < 0:
            raise ValueError(f"adversarial.epsilon_warmup_epochs = {self.epsilon_warmup_epochs} must be >= 0")

    @property
    def radius(self) -> float:
        """The radius of the training perturbation, whatever the method."""
        if self.method != "nsl":
            return self.epsilon
        if self.pgd_iterations > 1:
            return self.pgd_epsilon if self.pgd_epsilon is not None else self.step_size * self.pgd_iterations
        return self.step_size

    @property
    def uses_nsl(self) -> bool:
        """Whether training goes through NSL's wrapper (enabled, method nsl)."""
        return self.enabled and self.method == "nsl"
