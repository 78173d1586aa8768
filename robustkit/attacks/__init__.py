"""Adversarial attacks: one registry, one call convention.

Every attack is built from its config block (``ATTACKS.build(options)``) and
called as ``attack(model, images, labels, epsilon=..., seed=...) -> images``,
batched, compiled with `tf.function`, keeping images in [0, 1] (see
`robustkit.attacks.base`).

Registered attacks:

- ``fgsm``, ``fgm``, ``pgd``: gradient attacks in L-inf / L2, targeted or not (`gradient`);
- ``lbfgs``: Szegedy et al.'s box-constrained L-BFGS attack (`lbfgs`);
- ``iaa``: Luo et al.'s imperceptible attack (`iaa`);
- ``nsl``: the neighbour NSL trains on, through NSL's library (`nsl`);
- ``transfer``: PGD on a surrogate model, scored on every model (`transfer`);
- ``noise``: uniform or Gaussian noise of norm epsilon, the baseline (`noise`);
- ``cvae``: the worst case inside a CVAE's learned perturbation set (`cvae`);
- ``apgd``: Auto-PGD on CE or DLR, or targeted (APGD-T) (`apgd_attack`);
- ``fab``: the minimal-perturbation FAB attack, or FAB-T (`fab_attack`);
- ``square``: the score-based Square attack, forward passes only (`square_attack`);
- ``autoattack``: the AutoAttack cascade, standard, plus or rand (`autoattack_cascade`).

Called from Python on arrays (`robustkit.attacks.functional`)::

    adversarial = robustkit.attacks.pgd(model, images, labels, epsilon=0.1, norm="linf", iterations=10)
    adversarial = robustkit.attacks.autoattack(model, images, labels, epsilon=0.1)
    adversarial = robustkit.attacks.attack("square", model, images, labels, epsilon=0.1, queries=1000)

Importing this package loads only the options and the registry (no TensorFlow);
the functions and `Attack` load their modules on first use. The modules behind
``apgd``, ``fab``, ``square`` and ``autoattack`` are ``apgd_attack``,
``fab_attack``, ``square_attack`` and ``autoattack_cascade``.
"""

import importlib
from typing import Any

from robustkit.attacks.options import AttackConfig, SweepConfig
from robustkit.attacks.registry import ATTACKS, build_attack

_FUNCTIONS = ("apgd", "attack", "autoattack", "fab", "fgsm", "pgd", "square")


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        value = getattr(importlib.import_module("robustkit.attacks.functional"), name)
    elif name == "Attack":
        value = importlib.import_module("robustkit.attacks.base").Attack
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = ["ATTACKS", "Attack", "AttackConfig", "SweepConfig", "apgd", "attack", "autoattack", "build_attack", "fab",
           "fgsm", "pgd", "square"]
