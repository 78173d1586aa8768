"""Transfer (black-box) attacks: adversarial examples made on a surrogate, scored on every model.

Papernot et al. (2017), "Practical Black-Box Attacks against Machine Learning",
and Liu et al. (2017), "Delving into Transferable Adversarial Examples and
Black-box Attacks": examples crafted with white-box access to one model often
fool another. The validation of "Adversarially-Trained Classifier" (one reference model perturbs the data,
base and adversarially regularised models are scored on the same perturbed
images) is exactly this attack.

The examples are made by PGD (all of ``pgd``'s keys apply; ``iterations: 1,
step_size: 1, random_start: false`` gives FGSM) on ``surrogate``: the name of
one of the ``--model`` models, or the path of another model.
"""

from robustkit.attacks.gradient import GradientAttack
from robustkit.attacks.options import TransferConfig


class TransferAttack(GradientAttack):
    """PGD on the surrogate; the runner passes the surrogate as ``model``."""

    shares_examples = True

    def __init__(self, options: TransferConfig):
        super().__init__(options, norm=options.norm, iterations=options.iterations, step_size=options.step_size,
                         restarts=options.restarts, random_start=options.random_start, loss=options.loss)
        self.surrogate = options.surrogate

    def describe(self) -> str:
        return super().describe().replace("transfer (", f"transfer from {self.surrogate} (", 1)


def transfer(options: TransferConfig) -> TransferAttack:
    return TransferAttack(options)
