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
- ``apgd``: Auto-PGD on CE or DLR, or targeted (APGD-T) (`apgd`);
- ``fab``: the minimal-perturbation FAB attack, or FAB-T (`fab`);
- ``square``: the score-based Square attack, forward passes only (`square`);
- ``autoattack``: the AutoAttack cascade, standard, plus or rand (`autoattack`).
"""

from robustkit.attacks import apgd, autoattack, cvae, fab, gradient, iaa, lbfgs, noise, nsl, square, transfer
from robustkit.attacks.base import Attack, AttackConfig, SweepConfig
from robustkit.registry import Registry

ATTACKS = Registry("attack")
ATTACKS.register("fgsm", gradient.fgsm, gradient.FgsmConfig)
ATTACKS.register("fgm", gradient.fgm, gradient.FgmConfig)
ATTACKS.register("pgd", gradient.pgd, gradient.PgdConfig)
ATTACKS.register("lbfgs", lbfgs.lbfgs, lbfgs.LbfgsConfig)
ATTACKS.register("iaa", iaa.iaa, iaa.IaaConfig)
ATTACKS.register("nsl", nsl.nsl_attack, nsl.NslAttackConfig)
ATTACKS.register("transfer", transfer.transfer, transfer.TransferConfig)
ATTACKS.register("noise", noise.noise, noise.NoiseConfig)
ATTACKS.register("cvae", cvae.cvae, cvae.CvaeAttackConfig)
ATTACKS.register("apgd", apgd.apgd, apgd.ApgdConfig)
ATTACKS.register("fab", fab.fab, fab.FabConfig)
ATTACKS.register("square", square.square, square.SquareConfig)
ATTACKS.register("autoattack", autoattack.autoattack, autoattack.AutoAttackConfig)


def build_attack(options: AttackConfig) -> Attack:
    """Builds the attack a config block names."""
    return ATTACKS.build(options)


__all__ = ["ATTACKS", "Attack", "AttackConfig", "SweepConfig", "build_attack"]
