"""Gradient attacks: FGSM, FGM and PGD, untargeted or targeted.

- ``fgsm``: the fast gradient sign method of Goodfellow et al. (2015),
  "Explaining and Harnessing Adversarial Examples":
  ``x_adv = clip(x + epsilon * sign(grad_x loss(x, y)), 0, 1)``.
- ``fgm``: its L2 counterpart (Miyato et al., 2017, "Adversarial Training
  Methods for Semi-Supervised Text Classification"): the gradient divided by
  its L2 norm, times epsilon.
- ``pgd``: projected gradient descent of Madry et al. (2018), "Towards Deep
  Learning Models Resistant to Adversarial Attacks", in L-inf or L2: a random
  start in the epsilon ball, ``iterations`` steps of the steepest direction,
  each projected back onto the ball and into [0, 1], the best of ``restarts``
  runs kept per example.

Targeted versions (``targeted: random`` or ``least_likely``; Kurakin et al.,
2017, "Adversarial Examples in the Physical World") descend the loss of the
target class instead of ascending the label's.

Step size: PGD's ``step_size`` is relative; each step moves
``step_size * epsilon / iterations`` (Madry et al. use 2.5). FGSM and FGM make
one step of exactly epsilon.
"""

from typing import Optional

import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import FgmConfig, FgsmConfig, PgdConfig


class GradientAttack(base.Attack):
    """Iterated steepest-ascent steps projected onto the epsilon ball (one step: FGSM/FGM)."""

    def __init__(self, options: base.SweepConfig, *, norm: str, iterations: int = 1, step_size: float = 1.0,
                 restarts: int = 1, random_start: bool = False, loss: str = "cross_entropy"):
        super().__init__(options)
        self.norm = norm
        self.iterations = iterations
        self.step_size = step_size
        self.restarts = restarts
        self.random_start = random_start
        self.loss = loss

    def describe(self) -> str:
        parts = [self.norm]
        if self.iterations > 1:
            parts.append(f"{self.iterations} iterations")
        if self.restarts > 1:
            parts.append(f"{self.restarts} restarts")
        if self.targeted:
            parts.append(f"targeted: {self.targeted}")
        return f"{self.options.name} ({', '.join(parts)})"

    def generate(self, model, images, labels, epsilon, seed):
        fn = self.compiled(model, self._build, [base.batch_spec(images), base.batch_spec(labels), base.SCALAR,
                                                base.SEED])
        return fn(images, labels, tf.constant(epsilon, tf.float32), base.seed_tensor(seed))

    def _build(self, logits_of):
        norm, iterations, loss = self.norm, self.iterations, self.loss

        def run(images, labels, epsilon, seed, targets):
            step = self.step_size * epsilon / iterations
            x = images
            if self.random_start:
                x = tf.clip_by_value(images + base.random_in_ball(tf.shape(images), epsilon, norm, seed), 0.0, 1.0)
            for _ in base.loop_range(iterations):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    value = tf.reduce_sum(base.objective(logits_of(x), labels, targets, loss))
                direction = base.steepest_direction(tape.gradient(value, x), norm)
                delta = base.project(x + step * direction - images, epsilon, norm)
                x = tf.clip_by_value(images + delta, 0.0, 1.0)
            return x

        def attack(images, labels, epsilon, seed):
            targets: Optional[tf.Tensor] = None
            if self.targeted:
                targets = base.choose_targets(logits_of(images), labels, self.targeted, seed)
            best = run(images, labels, epsilon, seed, targets)
            if self.restarts == 1:
                return best
            logits = logits_of(best)
            best_success = base.is_success(logits, labels, targets)
            best_value = base.objective(logits, labels, targets, loss)
            for restart in range(1, self.restarts):
                x = run(images, labels, epsilon, seed + 1000 * restart, targets)
                logits = logits_of(x)
                success = base.is_success(logits, labels, targets)
                value = base.objective(logits, labels, targets, loss)
                better = (success & ~best_success) | (tf.equal(success, best_success) & (value > best_value))
                best = tf.where(tf.reshape(better, [-1, 1, 1, 1]), x, best)
                best_success = best_success | success
                best_value = tf.where(better, value, best_value)
            return best

        return attack


def fgsm(options: FgsmConfig) -> GradientAttack:
    """FGSM: one L-inf step of exactly epsilon."""
    return GradientAttack(options, norm="linf")


def fgm(options: FgmConfig) -> GradientAttack:
    """FGM: one L2 step of exactly epsilon."""
    return GradientAttack(options, norm="l2")


def pgd(options: PgdConfig) -> GradientAttack:
    """PGD in L-inf or L2 with random starts and restarts."""
    return GradientAttack(options, norm=options.norm, iterations=options.iterations, step_size=options.step_size,
                          restarts=options.restarts, random_start=options.random_start, loss=options.loss)
