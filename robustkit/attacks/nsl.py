"""The adversarial neighbour Neural Structured Learning trains on, as an attack.

NSL (Gopalan et al., 2021, "Neural Structured Learning: Training Neural
Networks with Structured Signals") perturbs each training batch by the gradient
of the labelled loss (Goodfellow et al., 2015), one step or PGD. This attack
generates the same neighbour through NSL's own library
(`robustkit.training.adversarial.neighbour_fn`, the only place that imports
NSL), compiled, so a model is scored on the very perturbation it was
regularised against.

For each epsilon of the sweep: one step of ``adv_step_size = epsilon``, or with
``pgd_iterations > 1``, PGD with ``pgd_epsilon = epsilon`` and steps of
``step_size * epsilon / pgd_iterations``.
"""

from typing import Dict

import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import NslAttackConfig
from robustkit.training import adversarial
from robustkit.training.config import AdversarialConfig


def adversarial_config(options: NslAttackConfig, epsilon: float) -> AdversarialConfig:
    """The training-side configuration that makes this neighbour at ``epsilon``."""
    pgd = options.pgd_iterations > 1
    return AdversarialConfig(
        enabled=True,
        step_size=options.step_size * epsilon / options.pgd_iterations if pgd else epsilon,
        norm=options.norm,
        pgd_iterations=options.pgd_iterations,
        pgd_epsilon=epsilon if pgd else None,
        random_init=options.random_init and pgd,
    )


class NslAttack(base.Attack):
    """NSL's neighbour, one compiled function per model serving every epsilon."""

    def __init__(self, options: NslAttackConfig):
        super().__init__(options)
        self.norm = options.norm
        self._neighbours: Dict[int, tuple] = {}

    def describe(self) -> str:
        steps = f", {self.options.pgd_iterations} iterations" if self.options.pgd_iterations > 1 else ""
        return f"nsl ({self.norm}{steps})"

    def generate(self, model, images, labels, epsilon, seed):
        if id(model) not in self._neighbours:
            nominal = adversarial_config(self.options, max(self.options.epsilons))
            self._neighbours[id(model)] = (model, adversarial.neighbour_fn(base.logits_fn(model), nominal))
        neighbour = self._neighbours[id(model)][1]
        config = adversarial_config(self.options, epsilon)
        if config.random_init:  # NSL tests pgd_epsilon for truth: it must stay a Python number.
            return neighbour(images, labels, config.step_size, config.pgd_epsilon)
        pgd_epsilon = tf.constant(epsilon, tf.float32) if config.pgd_epsilon is not None else None
        return neighbour(images, labels, tf.constant(config.step_size, tf.float32), pgd_epsilon)


def nsl_attack(options: NslAttackConfig) -> NslAttack:
    return NslAttack(options)
