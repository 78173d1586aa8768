"""FAB, the fast adaptive boundary attack of Croce and Hein (2020), in L-inf and L2.

Croce and Hein (2020), "Minimally distorted adversarial examples with a fast
adaptive boundary attack", ICML. FAB looks for the smallest perturbation that
changes the decision. Each iteration linearises the model at the current point
``x`` and, for the class whose linearised boundary is nearest, projects both
``x`` and the original image ``x0`` onto that hyperplane inside the box
[0, 1] (projections ``d`` and ``d0``); it then moves to a convex combination of
the two projections, extrapolated by ``eta`` (1.05), weighted towards ``x0``
by ``alpha = min(|d| / (|d| + |d0|), alpha_max)`` (``alpha_max`` 0.1). When the
point is adversarial it is recorded if it is the closest so far and pulled
back towards ``x0`` by ``beta`` (0.9).

The targeted version (FAB-T, as AutoAttack runs it) linearises only
``z_t - z_y`` for each of the ``n_target_classes`` classes the clean image ranks
highest after the top one; the untargeted version needs the gradient of every
logit. Restarts after the first start from a random point at distance
``epsilon / 2``.

As an attack with a radius, ``fab`` returns the closest adversarial point
found when it lies within epsilon and the clean image otherwise;
`Fab.minimal` returns the closest point and its distance whatever the radius.

Example:
  >>> attack = fab(FabConfig(epsilons=[0.1], targeted=True))
  >>> adversarial = attack(model, images, labels, epsilon=0.1, seed=(0, 1))
"""

from typing import Tuple

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.autoattack_options import FabConfig

NOT_FOUND = 1e10


def project_to_hyperplane(points: tf.Tensor, w: tf.Tensor, b: tf.Tensor, norm: str) -> tf.Tensor:
    """The smallest step ``d`` (L-inf or L2) with ``<w, points + d> = b`` and ``points + d`` in [0, 1].

    Shapes: points and w [B, D], b [B]. The optimal step is
    ``clip(lam * v, -points, 1 - points)`` with ``v = w`` (L2) or ``sign(w)``
    (L-inf) oriented towards the hyperplane, for the smallest ``lam >= 0`` that
    reaches it: ``<w, d(lam)>`` is piecewise linear and increasing in ``lam``,
    with a kink where each coordinate hits the box, so sorting the kinks gives
    ``lam`` exactly. When the box does not let the hyperplane be reached, the
    step goes as far towards it as the box allows.
    """
    gap = b - tf.reduce_sum(w * points, axis=1)
    sign = tf.where(gap >= 0, 1.0, -1.0)
    w = w * sign[:, None]
    gap = gap * sign
    v = tf.sign(w) if norm == "linf" else w
    cap = tf.where(w > 0, 1.0 - points, -points)  # The coordinate's step when it hits the box.
    free = tf.abs(v) > 1e-12
    rate = tf.where(free, w * v, 0.0)  # d<w, d>/d lam per free coordinate (>= 0).
    kink = tf.where(free, cap / tf.where(free, v, 1.0), np.inf)
    gain = tf.where(free, w * cap, 0.0)  # <w, d> contributed by a saturated coordinate.
    order = tf.argsort(kink, axis=1)
    kink_s, gain_s, rate_s = (tf.gather(t, order, batch_dims=1) for t in (kink, gain, rate))
    saturated_gain = tf.cumsum(gain_s, axis=1)
    free_rate = tf.reduce_sum(rate_s, axis=1, keepdims=True) - tf.cumsum(rate_s, axis=1)
    reached = saturated_gain + tf.where(tf.math.is_finite(kink_s), kink_s, 0.0) * free_rate
    short = tf.reduce_sum(tf.cast(reached < gap[:, None], tf.int32), axis=1)  # Kinks passed before the plane.
    dims = tf.shape(points)[1]
    before = tf.maximum(short - 1, 0)
    gain_before = tf.where(short > 0, tf.gather(saturated_gain, before, batch_dims=1), 0.0)
    rate_before = tf.gather(tf.cumsum(rate_s, axis=1), before, batch_dims=1)
    rate_left = tf.reduce_sum(rate_s, axis=1) - tf.where(short > 0, rate_before, 0.0)
    lam = tf.where(short < dims, (gap - gain_before) / tf.maximum(rate_left, 1e-30), np.inf)
    lam = tf.where(gap > 0, lam, 0.0)
    step = tf.clip_by_value(tf.where(free, lam[:, None] * v, 0.0), -points, 1.0 - points)
    return tf.where(free, step, 0.0)


class Fab(base.Attack):
    """FAB and FAB-T: see the module docstring."""

    def __init__(self, options: FabConfig):
        super().__init__(options)
        self.norm = options.norm
        self.targeted = None  # Success is any misclassification, also for FAB-T.

    def describe(self) -> str:
        parts = [self.norm, f"{self.options.iterations} iterations"]
        if self.options.targeted:
            parts.append(f"{self.options.n_target_classes} targets")
        if self.options.restarts > 1:
            parts.append(f"{self.options.restarts} restarts")
        return f"{self.options.name} ({', '.join(parts)})"

    def generate(self, model, images, labels, epsilon, seed):
        adversarial, distance = self.minimal(model, images, labels, seed, epsilon=epsilon)
        inside = distance <= epsilon * (1 + 1e-6)
        return tf.where(base._expand(tf.constant(inside), images), adversarial, images)

    def minimal(self, model, images, labels, seed=(0, 0), epsilon=None) -> Tuple[tf.Tensor, np.ndarray]:
        """The closest adversarial points found and their distances (0 if already wrong, inf if none found).

        With ``epsilon``, later targets and restarts only run on the examples
        not yet fooled within epsilon (as AutoAttack does).
        """
        options = self.options
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
        logits = base.logits_fn(model)(images).numpy()
        num_classes = logits.shape[1]
        labels_np = labels.numpy()
        distance = np.where(np.argmax(logits, axis=1) != labels_np, 0.0, np.inf)
        result = images.numpy().copy()
        order = np.argsort(-logits, axis=1)
        ranks = range(2, min(options.n_target_classes, num_classes - 1) + 2) if options.targeted else [None]
        radius = np.inf if epsilon is None else float(epsilon)
        fn = self.compiled(model, self._build, [base.batch_spec(images), base.batch_spec(labels),
                                                base.batch_spec(labels), base.SCALAR, base.SEED, base.SCALAR])
        for rank_index, rank in enumerate(ranks):
            targets = order[:, rank - 1] if rank is not None else labels_np
            for restart in range(options.restarts):
                todo = np.flatnonzero(distance > radius) if np.isfinite(radius) else np.flatnonzero(distance > 0)
                if not len(todo):
                    return tf.constant(result), distance
                run_seed = base.seed_tensor(seed) + 104729 * (rank_index * options.restarts + restart + 1)
                start_radius = 0.0 if restart == 0 else 0.5 * (radius if np.isfinite(radius) else 0.1)
                adv, found = fn(tf.gather(images, todo), tf.gather(labels, todo), tf.constant(targets[todo]),
                                tf.constant(start_radius, tf.float32), run_seed,
                                tf.constant(0.0 if epsilon is None else epsilon, tf.float32))
                found = np.where(found.numpy() >= NOT_FOUND / 2, np.inf, found.numpy())
                better = found < distance[todo]
                result[todo[better]] = adv.numpy()[better]
                distance[todo[better]] = found[better]
        return tf.constant(result), distance

    def _build(self, logits_of):
        options, norm = self.options, self.norm
        dual = "l1" if norm == "linf" else "l2"

        def boundary(x, labels, targets):
            """The nearest linearised boundary at x: (f, grad f) with f = z_k - z_y."""
            if options.targeted:
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    logits = logits_of(x)
                    f = tf.gather(logits, targets, batch_dims=1) - tf.gather(logits, labels, batch_dims=1)
                    total = tf.reduce_sum(f)
                grad = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                return f, tf.reshape(grad, [tf.shape(x)[0], -1])
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = logits_of(x)
            jacobian = tape.batch_jacobian(logits, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            jacobian = tf.reshape(jacobian, [tf.shape(x)[0], tf.shape(logits)[1], -1])
            f = logits - tf.gather(logits, labels, batch_dims=1)[:, None]
            g = jacobian - tf.gather(jacobian, labels, batch_dims=1)[:, None]
            g_norm = tf.reduce_sum(tf.abs(g), -1) if dual == "l1" else tf.sqrt(tf.reduce_sum(tf.square(g), -1))
            distance = tf.abs(f) / (g_norm + 1e-12)
            distance = tf.where(tf.one_hot(labels, tf.shape(logits)[1]) > 0, np.inf, distance)
            nearest = tf.argmin(distance, axis=1)
            return tf.gather(f, nearest, batch_dims=1), tf.gather(g, nearest, batch_dims=1)

        def run(images, labels, targets, start_radius, seed, epsilon):
            shape = tf.shape(images)
            batch = shape[0]
            x0 = tf.reshape(images, [batch, -1])
            if norm == "linf":
                noise = tf.random.stateless_uniform(tf.shape(x0), seed, -1.0, 1.0)
            else:
                noise = tf.random.stateless_normal(tf.shape(x0), seed)
            unit = noise / tf.maximum(base.per_example_norm(noise, norm), 1e-12)[:, None]
            x = tf.clip_by_value(x0 + start_radius * unit, 0.0, 1.0)
            best = tf.fill([batch], NOT_FOUND)
            best_x = x0
            for _ in base.loop_range(options.iterations):
                f, g = boundary(tf.reshape(x, shape), labels, targets)
                b = tf.reduce_sum(g * x, axis=1) - f
                steps = project_to_hyperplane(tf.concat([x, x0], 0), tf.concat([g, g], 0), tf.concat([b, b], 0), norm)
                d, d0 = steps[:batch], steps[batch:]
                size = tf.maximum(base.per_example_norm(steps, norm), 1e-8)
                a, a0 = size[:batch], size[batch:]
                alpha = tf.clip_by_value(a / (a + a0), 0.0, options.alpha_max)[:, None]
                x = tf.clip_by_value((x + options.eta * d) * (1 - alpha) + (x0 + options.eta * d0) * alpha, 0.0, 1.0)
                wrong = tf.not_equal(tf.argmax(logits_of(tf.reshape(x, shape)), -1, output_type=tf.int64), labels)
                distance = base.per_example_norm(x - x0, norm)
                closer = wrong & (distance < best)
                best_x = tf.where(closer[:, None], x, best_x)
                best = tf.where(closer, distance, best)
                x = tf.where(wrong[:, None], x0 + (x - x0) * options.beta, x)
            return tf.reshape(best_x, shape), best

        return run


def fab(options: FabConfig) -> Fab:
    """FAB (or FAB-T with ``targeted``) in L-inf or L2."""
    return Fab(options)
