"""Auto-PGD (APGD) of Croce and Hein (2020), untargeted or targeted, in L-inf and L2.

Croce and Hein (2020), "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks", ICML. PGD with momentum 0.75 and a
step size that needs no tuning: it starts at ``2 * epsilon`` and is halved, per
example, at the checkpoints ``w_j = ceil(p_j * N)`` (``p_0 = 0``, ``p_1 = 0.22``,
``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``) when the loss increased in at
most ``rho`` (0.75) of the steps since the last checkpoint, or when the step was
not halved at the last checkpoint and the best loss has not improved since;
each halving restarts from the best point found.

Losses: ``ce`` (cross-entropy), ``dlr`` (difference of logits ratio,
``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``, invariant to shifting and
scaling the logits) and, with ``targeted``, the targeted DLR
``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`` run once for each of the
``n_target_classes`` classes the clean image ranks highest after the top one.
``eot_iter`` averages that many gradient draws per step (expectation over
transformation, for randomised models).

Example:
  >>> attack = apgd(ApgdConfig(epsilons=[0.1], loss="dlr", iterations=20))
  >>> adversarial = attack(model, images, labels, epsilon=0.1, seed=(0, 1))
"""

import logging
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.autoattack_options import ApgdConfig

log = logging.getLogger(__name__)

_DENOMINATOR_FLOOR = 1e-12


def checkpoints(iterations: int) -> List[int]:
    """The paper's checkpoints ``w_j = ceil(p_j * N)`` that do not pass N (exact, in hundredths)."""
    fractions = [0, 22]
    while fractions[-1] <= 100:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 3, 6))
    points = sorted({-(-q * iterations // 100) for q in fractions if q <= 100})
    return [w for w in points if w <= iterations]


def dlr_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """The difference-of-logits-ratio loss per example (needs at least 3 classes)."""
    top = tf.math.top_k(logits, k=3).values
    return base.margin(logits, labels) / (top[:, 0] - top[:, 2] + _DENOMINATOR_FLOOR)


def targeted_dlr_loss(logits: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """The targeted DLR loss per example (needs at least 4 classes)."""
    top = tf.math.top_k(logits, k=4).values
    gap = tf.gather(logits, labels, batch_dims=1) - tf.gather(logits, targets, batch_dims=1)
    return -gap / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + _DENOMINATOR_FLOOR)


class Apgd(base.Attack):
    """APGD: see the module docstring."""

    def __init__(self, options: ApgdConfig):
        super().__init__(options)
        self.norm = options.norm
        self.targeted = None  # Success is any misclassification, also for the targeted version.
        self.checkpoints = checkpoints(options.iterations)

    def describe(self) -> str:
        loss = "targeted dlr" if self.options.targeted else self.options.loss
        parts = [self.norm, loss, f"{self.options.iterations} iterations"]
        if self.options.targeted:
            parts.append(f"{self.options.n_target_classes} targets")
        if self.options.restarts > 1:
            parts.append(f"{self.options.restarts} restarts")
        if self.options.eot_iter > 1:
            parts.append(f"EOT {self.options.eot_iter}")
        return f"{self.options.name} ({', '.join(parts)})"

    def targets(self, model, images, labels, seed=(0, 0)):
        return None  # One run per target rank: no single target per example.

    def generate(self, model, images, labels, epsilon, seed):
        return self.attack(model, images, labels, epsilon, seed)[0]

    def attack(self, model, images, labels, epsilon, seed) -> Tuple[tf.Tensor, np.ndarray]:
        """Adversarial images and whether each example was fooled.

        Examples the model already gets wrong are returned unchanged (and count
        as fooled); examples no run fooled get the highest-loss point found.
        """
        options = self.options
        logits_of = base.logits_fn(model)
        logits = logits_of(images).numpy()
        num_classes = logits.shape[1]
        labels_np = labels.numpy()
        fooled = np.argmax(logits, axis=1) != labels_np
        result = images.numpy().copy()
        ranks = range(2, min(options.n_target_classes, num_classes - 1) + 2) if options.targeted else [None]
        order = np.argsort(-logits, axis=1)
        fn = self.compiled(model, self._build(num_classes), [
            base.batch_spec(images), base.batch_spec(labels), base.batch_spec(labels), base.SCALAR, base.SEED])
        for rank_index, rank in enumerate(ranks):
            targets = order[:, rank - 1] if rank is not None else labels_np
            for restart in range(options.restarts):
                todo = np.flatnonzero(~fooled)
                if not len(todo):
                    return tf.constant(result), fooled
                run_seed = base.seed_tensor(seed) + 7919 * (rank_index * options.restarts + restart + 1)
                adv, hit = fn(tf.gather(images, todo), tf.gather(labels, todo), tf.constant(targets[todo]),
                              tf.constant(epsilon, tf.float32), run_seed)
                hit = hit.numpy()
                result[todo] = adv.numpy()
                fooled[todo[hit]] = True
        return tf.constant(result), fooled

    def _build(self, num_classes: int):
        options, norm = self.options, self.norm
        iterations, rho, eot = options.iterations, options.rho, options.eot_iter
        is_check = np.zeros(iterations + 1, bool)
        window = np.zeros(iterations + 1, np.float32)
        for previous, point in zip(self.checkpoints[:-1], self.checkpoints[1:]):
            is_check[point], window[point] = True, point - previous
        if options.targeted:
            mode = "targeted_dlr" if num_classes >= 4 else "targeted_ce"
        else:
            mode = "dlr" if options.loss == "dlr" and num_classes >= 3 else "ce"
        if mode != ("targeted_dlr" if options.targeted else options.loss):
            log.warning("apgd: %d classes are too few for the %s loss; using %s", num_classes,
                        "targeted DLR" if options.targeted else "DLR", mode.replace("_", " "))

        def build(logits_of):
            def loss_of(x, labels, targets):
                logits = logits_of(x)
                if mode == "ce":
                    return logits, base.cross_entropy(logits, labels)
                if mode == "dlr":
                    return logits, dlr_loss(logits, labels)
                if mode == "targeted_ce":
                    return logits, -base.cross_entropy(logits, targets)
                return logits, targeted_dlr_loss(logits, labels, targets)

            def loss_and_grad(x, labels, targets):
                def one():
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        logits, loss = loss_of(x, labels, targets)
                        total = tf.reduce_sum(loss)
                    return logits, loss, tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

                logits, loss, grad = one()
                for _ in base.loop_range(eot - 1) if eot > 1 else []:
                    more_logits, more_loss, more_grad = one()
                    logits, loss, grad = more_logits, loss + more_loss, grad + more_grad
                return logits, loss / eot, grad / eot

            def project(x, images, epsilon):
                delta = base.project(x - images, epsilon, norm)
                return tf.clip_by_value(images + delta, 0.0, 1.0)

            def run(images, labels, targets, epsilon, seed):
                shape = tf.shape(images)
                batch = shape[0]
                if norm == "linf":
                    noise = tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
                else:
                    noise = tf.random.stateless_normal(shape, seed)
                unit = noise / base._expand(tf.maximum(base.per_example_norm(noise, norm), 1e-12), noise)
                x = tf.clip_by_value(images + epsilon * unit, 0.0, 1.0)
                logits, loss, grad = loss_and_grad(x, labels, targets)
                fooled = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int64), labels)
                x_adv_best = x
                x_best, grad_best, loss_best = x, grad, loss
                step = tf.fill([batch], 2.0 * epsilon)
                x_old = x
                increases = tf.zeros([batch])
                previous_loss = loss
                best_at_check = loss_best
                halved_at_check = tf.ones([batch], tf.bool)
                check_table, window_table = tf.constant(is_check), tf.constant(window)
                for i in base.loop_range(iterations):
                    first = i == 0 if isinstance(i, int) else tf.equal(i, 0)
                    momentum = tf.where(first, 1.0, 0.75)
                    direction = base.steepest_direction(grad, norm)
                    z = project(x + base._expand(step, x) * direction, images, epsilon)
                    x_new = project(x + momentum * (z - x) + (1.0 - momentum) * (x - x_old), images, epsilon)
                    x_old, x = x, x_new
                    logits, loss, grad = loss_and_grad(x, labels, targets)
                    wrong = tf.not_equal(tf.argmax(logits, -1, output_type=tf.int64), labels)
                    x_adv_best = tf.where(base._expand(wrong, x), x, x_adv_best)
                    fooled = fooled | wrong
                    increases += tf.cast(loss > previous_loss, tf.float32)
                    previous_loss = loss
                    better = loss > loss_best
                    x_best = tf.where(base._expand(better, x), x, x_best)
                    grad_best = tf.where(base._expand(better, x), grad, grad_best)
                    loss_best = tf.where(better, loss, loss_best)
                    done = i + 1
                    if isinstance(done, int):
                        check, length = bool(is_check[done]), float(window[done])
                    else:
                        check, length = tf.gather(check_table, done), tf.gather(window_table, done)
                    if check:
                        oscillating = increases <= rho * length
                        stalled = ~halved_at_check & (best_at_check >= loss_best)
                        halve = oscillating | stalled
                        step = tf.where(halve, step / 2.0, step)
                        x = tf.where(base._expand(halve, x), x_best, x)
                        grad = tf.where(base._expand(halve, x), grad_best, grad)
                        halved_at_check, best_at_check = halve, loss_best
                        increases = tf.zeros([batch])
                return tf.where(base._expand(fooled, x), x_adv_best, x_best), fooled

            return run

        return build


def apgd(options: ApgdConfig) -> Apgd:
    """APGD in L-inf or L2 on the CE or DLR loss, or targeted (APGD-T)."""
    return Apgd(options)
