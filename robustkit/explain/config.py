"""The config schema of ``python -m robustkit.explain`` (no TensorFlow import here).

``methods`` maps a label (the map's title in the figures) to an attribution
method's block, as ``attacks`` does for attacks: the block's ``name`` picks the
method from `robustkit.explain.registry.EXPLAINERS` and defaults to the label,
so ``smoothgrad: {samples: 25}`` and ``negative: {name: vanilla, mode:
negative}`` are both methods; ``--set methods.guided_backprop=false`` drops one.

``attacks`` are `robustkit.attacks` blocks. Each attack with a radius is made at
the largest of its ``epsilons`` (write ``epsilons: [0.1]``); L-BFGS and IAA have
none. Their adversarial examples feed the activation figure, the adversarial
saliency figure and the uncertainty measurements. ``robustness.attack`` is one
more attack block, run over its ``epsilons`` to find the smallest epsilon
that flips each example (the "good" and "bad" images).
"""

import dataclasses
from typing import Dict, List, Literal, Optional

from robustkit.attacks.options import AttackConfig, FgsmConfig, IaaConfig, LbfgsConfig, PgdConfig
from robustkit.data.options import DataConfig
from robustkit.explain import options
from robustkit.explain.options import ExplainerConfig
from robustkit.explain.registry import EXPLAINERS
from robustkit.sections import DistributeConfig, RunConfig

_NO_RADIUS = ("lbfgs", "iaa")


def _datasets():
    from robustkit.data import DATASETS

    return DATASETS


def _attacks():
    from robustkit.attacks import ATTACKS

    return ATTACKS


def _explainers():
    return EXPLAINERS


def _default_methods() -> Dict[str, ExplainerConfig]:
    return {
        "positive": options.VanillaConfig(mode="positive"),
        "negative": options.VanillaConfig(mode="negative"),
        "smoothgrad": options.SmoothGradConfig(),
        "integrated_gradients": options.IntegratedGradientsConfig(),
        "gradcam": options.GradCamConfig(),
        "guided_backprop": options.GuidedBackpropConfig(),
    }


def _default_attacks() -> Dict[str, AttackConfig]:
    return {"fgsm": FgsmConfig(epsilons=[0.1]), "pgd": PgdConfig(epsilons=[0.1]),
            "lbfgs": LbfgsConfig(max_examples=20, search_steps=3, iterations=20),
            "iaa": IaaConfig(max_examples=50)}


def _default_robustness_attack() -> AttackConfig:
    return FgsmConfig()


@dataclasses.dataclass
class SaliencyConfig:
    """What the saliency figures show.

    Attributes:
      examples: rows of saliency.png: the first example of each class in
        order, until there are this many (ignored when ``indices`` is set).
      indices: the evaluation examples shown, by position (null: as above).
      target: the class each map explains: the model's prediction or the label.
      top_k: predictions listed beside each image, with class names.
      adversarial: also draw saliency_adversarial.png, the same rows made
        adversarial by ``attack`` against each model.
      attack: the attack label used there (null: pgd if configured, else the
        first attack).
      max_batch: images per gradient pass (SmoothGrad and Integrated Gradients
        evaluate many per example).
    """

    examples: int = 4
    indices: Optional[List[int]] = None
    target: Literal["predicted", "label"] = "predicted"
    top_k: int = 5
    adversarial: bool = True
    attack: Optional[str] = None
    max_batch: int = 256

    def __post_init__(self):
        if self.examples < 1 or self.top_k < 1 or self.max_batch < 1:
            raise ValueError("saliency.examples, saliency.top_k and saliency.max_batch must be at least 1")
        if self.indices is not None and (not self.indices or min(self.indices) < 0):
            raise ValueError(f"saliency.indices = {self.indices} must be non-negative positions, or null")


@dataclasses.dataclass
class ActivationsConfig:
    """The convolution-layer outputs of activations.png.

    Attributes:
      layers: layer names (searched inside nested models too); null: the first
        ``count`` convolution layers.
      count: convolution layers shown when ``layers`` is null.
      channels: channels tiled per layer (the first ones).
      example: the evaluation example shown, by position.
    """

    layers: Optional[List[str]] = None
    count: int = 2
    channels: int = 16
    example: int = 0

    def __post_init__(self):
        if self.count < 1 or self.channels < 1 or self.example < 0:
            raise ValueError("activations.count and activations.channels must be >= 1, activations.example >= 0")
        if self.layers is not None and not self.layers:
            raise ValueError("activations.layers is empty; name at least one layer, or null for the first ones")


@dataclasses.dataclass
class UncertaintyConfig:
    """Monte-Carlo dropout (Gal and Ghahramani, 2016).

    Attributes:
      samples: stochastic forward passes per image (T;
        "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models" uses 50).
      max_batch: images per forward pass; the T copies of a batch run as one
        pass when ``T * examples`` fits, else in slices.
      bins: bins of the expected calibration error.
      attacks: attack labels measured adversarially (null: all).
    """

    samples: int = 50
    max_batch: int = 4096
    bins: int = 15
    attacks: Optional[List[str]] = None

    def __post_init__(self):
        if self.samples < 2:
            raise ValueError(f"uncertainty.samples = {self.samples} must be at least 2 (a variance needs two)")
        if self.max_batch < 1 or self.bins < 1:
            raise ValueError("uncertainty.max_batch and uncertainty.bins must be at least 1")


@dataclasses.dataclass
class RobustnessConfig:
    """The "good" (most robust) and "bad" (least robust) images.

    Attributes:
      attack: an attack block with a radius (fgsm, fgm, pgd or noise); its
        ``epsilons`` are the grid searched, per example, for the smallest
        epsilon that flips the prediction (0 is skipped), and its
        ``max_examples`` caps the examples searched (the first ones).
      examples: good and bad images shown, each.
    """

    attack: AttackConfig = dataclasses.field(default_factory=_default_robustness_attack,
                                             metadata={"registry": _attacks})
    examples: int = 6

    def __post_init__(self):
        if self.examples < 1:
            raise ValueError(f"robustness.examples = {self.examples} must be at least 1")

    def epsilons(self) -> List[float]:
        """The grid: the attack's nonzero epsilons, increasing."""
        return sorted(e for e in getattr(self.attack, "epsilons", None) or [] if e > 0)


@dataclasses.dataclass
class ExplainJob:
    """Everything ``python -m robustkit.explain`` reads from its config.

    Attributes:
      run: the name, output directory (``--out`` overrides it; default
        ``runs/<name>``) and seed.
      data: the dataset; the first ``data.eval_limit`` examples of
        ``data.eval_split`` are used.
      batch_size: examples per attack and prediction batch.
      methods: label -> attribution method block (see the module docstring).
      saliency: the saliency figures.
      activations: the activation figure.
      attacks: label -> attack block (see the module docstring).
      uncertainty: MC dropout.
      robustness: the good and bad images.
      distribute: the `tf.distribute` strategy whose replicas share the attack
        batches (each batch computed as on one device, so the results do not
        depend on it; the other steps run on one device).
    """

    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(name="explain"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": _datasets})
    batch_size: int = 128
    methods: Dict[str, ExplainerConfig] = dataclasses.field(default_factory=_default_methods,
                                                            metadata={"registry": _explainers})
    saliency: SaliencyConfig = dataclasses.field(default_factory=SaliencyConfig)
    activations: ActivationsConfig = dataclasses.field(default_factory=ActivationsConfig)
    attacks: Dict[str, AttackConfig] = dataclasses.field(default_factory=_default_attacks,
                                                         metadata={"registry": _attacks})
    uncertainty: UncertaintyConfig = dataclasses.field(default_factory=UncertaintyConfig)
    robustness: RobustnessConfig = dataclasses.field(default_factory=RobustnessConfig)
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)

    def resolve(self) -> "ExplainJob":
        """Fills the run directory and checks what spans sections."""
        self.run.resolve()
        if self.batch_size < 1:
            raise ValueError(f"batch_size = {self.batch_size} must be at least 1")
        if not self.methods:
            raise ValueError("methods is empty; configure at least one, e.g. methods: {vanilla: {}}")
        for label, block in [*self.attacks.items(), ("robustness.attack", self.robustness.attack)]:
            if block.name == "transfer":
                raise ValueError(f"attack {label!r}: transfer attacks need a surrogate model; use "
                                 "python -m robustkit.validate_adv for them")
        if self.robustness.attack.name in _NO_RADIUS or not self.robustness.epsilons():
            raise ValueError(f"robustness.attack ({self.robustness.attack.name}) has no nonzero epsilons to search; "
                             "use fgsm, fgm, pgd or noise with epsilons, e.g. [0.01, 0.02, 0.05, 0.1]")
        if self.saliency.attack is not None and self.saliency.attack not in self.attacks:
            raise ValueError(f"saliency.attack = {self.saliency.attack!r} is not one of the attacks: "
                             f"{', '.join(self.attacks) or 'none'}")
        unknown = [a for a in self.uncertainty.attacks or [] if a not in self.attacks]
        if unknown:
            raise ValueError(f"uncertainty.attacks {unknown} are not among the attacks: "
                             f"{', '.join(self.attacks) or 'none'}")
        return self

    def saliency_attack(self) -> Optional[str]:
        """The attack label of saliency_adversarial.png (None: no such figure)."""
        if not self.saliency.adversarial or not self.attacks:
            return None
        if self.saliency.attack is not None:
            return self.saliency.attack
        return next((label for label, a in self.attacks.items() if a.name == "pgd"), next(iter(self.attacks)))

    def uncertainty_attacks(self) -> List[str]:
        """The attack labels whose examples MC dropout measures."""
        return list(self.attacks) if self.uncertainty.attacks is None else list(self.uncertainty.attacks)


def attack_epsilon(options: AttackConfig) -> Optional[float]:
    """The radius an attack is made at here: the largest of its epsilons (None for L-BFGS and IAA)."""
    epsilons = getattr(options, "epsilons", None)
    if options.name in _NO_RADIUS or not epsilons:
        return None
    return max(epsilons)
