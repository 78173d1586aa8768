"""The attack registry: every attack's name, options class and builder (imported when first built).

Only the options classes load here, so a config's ``attacks:`` block validates
without TensorFlow.
"""

from typing import TYPE_CHECKING

from robustkit.attacks.autoattack_options import ApgdConfig, AutoAttackConfig, FabConfig, SquareConfig
from robustkit.attacks.options import (AttackConfig, CvaeAttackConfig, FgmConfig, FgsmConfig, IaaConfig, LbfgsConfig,
                                       NoiseConfig, NslAttackConfig, PgdConfig, TransferConfig)
from robustkit.registry import Registry

if TYPE_CHECKING:
    from robustkit.attacks.base import Attack

ATTACKS = Registry("attack")
ATTACKS.register("fgsm", "robustkit.attacks.gradient:fgsm", FgsmConfig)
ATTACKS.register("fgm", "robustkit.attacks.gradient:fgm", FgmConfig)
ATTACKS.register("pgd", "robustkit.attacks.gradient:pgd", PgdConfig)
ATTACKS.register("lbfgs", "robustkit.attacks.lbfgs:lbfgs", LbfgsConfig)
ATTACKS.register("iaa", "robustkit.attacks.iaa:iaa", IaaConfig)
ATTACKS.register("nsl", "robustkit.attacks.nsl:nsl_attack", NslAttackConfig)
ATTACKS.register("transfer", "robustkit.attacks.transfer:transfer", TransferConfig)
ATTACKS.register("noise", "robustkit.attacks.noise:noise", NoiseConfig)
ATTACKS.register("cvae", "robustkit.attacks.cvae:cvae", CvaeAttackConfig)
ATTACKS.register("apgd", "robustkit.attacks.apgd_attack:apgd", ApgdConfig)
ATTACKS.register("fab", "robustkit.attacks.fab_attack:fab", FabConfig)
ATTACKS.register("square", "robustkit.attacks.square_attack:square", SquareConfig)
ATTACKS.register("autoattack", "robustkit.attacks.autoattack_cascade:autoattack", AutoAttackConfig)


def build_attack(options: AttackConfig) -> "Attack":
    """Builds the attack a config block names."""
    return ATTACKS.build(options)
