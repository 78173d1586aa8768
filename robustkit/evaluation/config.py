"""The config schema of ``python -m robustkit.validate_adv`` (no TensorFlow import here).

``attacks`` maps a label (the name the attack has in the report) to an attack's
block; the block's ``name`` picks the attack from `robustkit.attacks.ATTACKS`
and defaults to the label, so ``pgd: {epsilons: [0.1]}`` and ``pgd_l2: {name:
pgd, norm: l2}`` are both attacks. ``--set attacks.pgd.iterations=20`` changes
one key, ``--set attacks.lbfgs=false`` drops an attack.
"""

import dataclasses
from typing import Dict, Optional

from robustkit.attacks.options import AttackConfig, FgsmConfig, NoiseConfig, PgdConfig
from robustkit.data.options import DataConfig
from robustkit.evaluation.corruption_options import CorruptionsConfig
from robustkit.sections import DistributeConfig, RunConfig


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


def _attacks():
    from robustkit.attacks import ATTACKS

    return ATTACKS


def _default_attacks() -> Dict[str, AttackConfig]:
    return {"fgsm": FgsmConfig(), "pgd": PgdConfig(), "noise": NoiseConfig()}


@dataclasses.dataclass
class SanityConfig:
    """The checks of Carlini et al. (2019), "On Evaluating Adversarial Robustness".

    Attributes:
      tolerance: slack, in accuracy, for the comparisons (accuracy may rise by
        at most this much with epsilon; PGD may be weaker than FGSM, white-box
        weaker than transfer or noise, by at most this much).
      large_epsilon: the L-inf radius at which PGD must bring accuracy near zero.
      large_epsilon_iterations: PGD steps for that check.
      max_accuracy_at_large_epsilon: "near zero": the highest accuracy that passes.
      examples: examples used by the large-epsilon check (the first ones).
    """

    tolerance: float = 0.01
    large_epsilon: float = 0.5
    large_epsilon_iterations: int = 20
    max_accuracy_at_large_epsilon: float = 0.05
    examples: int = 200

    def __post_init__(self):
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"sanity.tolerance = {self.tolerance} must lie in [0, 1)")
        if not 0 < self.large_epsilon <= 1:
            raise ValueError(f"sanity.large_epsilon = {self.large_epsilon} must lie in (0, 1]")
        if self.large_epsilon_iterations < 1 or self.examples < 1:
            raise ValueError("sanity.large_epsilon_iterations and sanity.examples must be at least 1")
        if not 0 <= self.max_accuracy_at_large_epsilon <= 1:
            raise ValueError(f"sanity.max_accuracy_at_large_epsilon = {self.max_accuracy_at_large_epsilon} "
                             "must lie in [0, 1]")


@dataclasses.dataclass
class ReportConfig:
    """What the report shows.

    Attributes:
      examples: examples drawn in examples.png (0: no figure).
      attack: the attack label drawn there (null: the first pgd, else the
        first attack with epsilons, else the first attack).
      epsilon: its epsilon (null: the middle nonzero epsilon of its sweep).
    """

    examples: int = 8
    attack: Optional[str] = None
    epsilon: Optional[float] = None

    def __post_init__(self):
        if self.examples < 0:
            raise ValueError(f"report.examples = {self.examples} must be >= 0")


@dataclasses.dataclass
class ValidateJob:
    """Everything ``python -m robustkit.validate_adv`` reads from its config.

    Attributes:
      run: the name, output directory (``--out`` overrides it; default
        ``runs/<name>``) and seed.
      data: the dataset; ``data.eval_split`` is attacked, its first
        ``data.eval_limit`` examples (null: all).
      batch_size: examples per attack batch.
      attacks: label -> attack block (see the module docstring).
      sanity: the sanity checks' thresholds.
      report: what the report draws.
      corruptions: the corruption benchmark, scored after the attacks (null: none).
      distribute: the `tf.distribute` strategy whose replicas share the
        batches (mirrored: every local GPU; multi_worker: the examples sharded
        over workers, the chief writes). Each batch is computed as on one
        device, so the results are the same under every strategy.
    """

    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    batch_size: int = 128
    attacks: Dict[str, AttackConfig] = dataclasses.field(
        default_factory=_default_attacks, metadata={"registry": _attacks}
    )
    sanity: SanityConfig = dataclasses.field(default_factory=SanityConfig)
    report: ReportConfig = dataclasses.field(default_factory=ReportConfig)
    corruptions: Optional[CorruptionsConfig] = None
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)

    def resolve(self) -> "ValidateJob":
        """Fills the run directory and checks what spans sections."""
        self.run.resolve()
        if self.batch_size < 1:
            raise ValueError(f"batch_size = {self.batch_size} must be at least 1")
        if not self.attacks:
            raise ValueError("attacks is empty; configure at least one attack, e.g. attacks: {fgsm: {}}")
        if self.report.attack is not None and self.report.attack not in self.attacks:
            raise ValueError(
                f"report.attack = {self.report.attack!r} is not one of the attacks: {', '.join(self.attacks)}"
            )
        if self.report.epsilon is not None:
            label = self.report.attack or self.example_attack()
            epsilons = getattr(self.attacks[label], "epsilons", None) or []
            if self.report.epsilon not in epsilons:
                raise ValueError(f"report.epsilon = {self.report.epsilon} is not an epsilon of attack {label!r}: "
                                 f"{epsilons}")
        return self

    def example_attack(self) -> str:
        """The label of the attack examples.png shows."""
        if self.report.attack is not None:
            return self.report.attack
        for wanted in ("pgd", None):
            for label, options in self.attacks.items():
                if (wanted is None or options.name == wanted) and getattr(options, "epsilons", None):
                    return label
        return next(iter(self.attacks))

    def example_epsilon(self) -> Optional[float]:
        """The epsilon examples.png shows (None for attacks without one)."""
        if self.report.epsilon is not None:
            return self.report.epsilon
        epsilons = [e for e in getattr(self.attacks[self.example_attack()], "epsilons", None) or [] if e > 0]
        return epsilons[len(epsilons) // 2] if epsilons else None
