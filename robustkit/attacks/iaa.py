"""The imperceptible adversarial attack (IAA) of Luo et al. (2018).

"Towards Imperceptible and Robust Adversarial Example Attacks against Neural
Networks" (AAAI 2018). People notice changes in smooth regions more than in
textured ones, so the attack perturbs high-variance pixels first:

- ``SD(x_i)``: the standard deviation of the 3x3 neighbourhood of pixel ``i``
  (per channel, over the pixels inside the image), ``Sen(x_i) = 1 / SD(x_i)``
  its perturbation sensitivity (``SD`` floored at ``min_sd`` so that ``Sen``
  stays finite in flat regions);
- ``Gap(X*) = z_t - log(sum_{i != t} exp(k z_i)) / k``: the soft gap between
  the target logit and the others (untargeted: between the best other logit
  and the label's, ``log(sum_{i != y} exp(k z_i)) / k - z_y``);
- ``PerturbPriority(x_i) = grad_i Gap / Sen(x_i)``;
- ``D(X*, X) = sum_i |X*_i - X_i| * Sen(X_i)``: the perceptual distance.

Each iteration moves the ``m`` pixels of highest priority magnitude by
``delta`` in the direction of their gradient (clipped to [0, 1]), until the
perceptual distance would pass ``D_max``. Two readings of the pseudo-code of
"Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models"
are made explicit: the sensitivity and the distance are measured against the
original image (the distance is cumulative), and pixels are taken in priority
order only while the distance stays within ``D_max``, so it never exceeds it.
An example whose next pixel would pass ``D_max``, or that has no pixel left to
move, stops. The distance reached is reported per example.
"""

from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import IaaConfig


def sensitivity(images: tf.Tensor, min_sd: float) -> tf.Tensor:
    """``Sen = 1 / max(SD, min_sd)``, SD over each pixel's 3x3 neighbourhood (same shape as images)."""
    mean = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    mean_sq = tf.nn.avg_pool2d(tf.square(images), 3, 1, "SAME")
    sd = tf.sqrt(tf.maximum(mean_sq - tf.square(mean), 0.0))
    return 1.0 / tf.maximum(sd, min_sd)


def perceptual_distance(adversarial: tf.Tensor, images: tf.Tensor, sen: tf.Tensor) -> tf.Tensor:
    """``D(X*, X) = sum_i |X*_i - X_i| * Sen(X_i)`` per example."""
    return tf.reduce_sum(tf.reshape(tf.abs(adversarial - images) * sen, [tf.shape(images)[0], -1]), axis=1)


def soft_gap(logits: tf.Tensor, classes: tf.Tensor, targeted: bool, k: float) -> tf.Tensor:
    """The soft gap the attack increases (see the module docstring)."""
    mask = tf.one_hot(classes, tf.shape(logits)[1]) > 0
    own = tf.reduce_sum(tf.where(mask, logits, 0.0), axis=1)
    others = tf.reduce_logsumexp(tf.where(mask, -1e9, k * logits), axis=1) / k
    return own - others if targeted else others - own


class IaaAttack(base.Attack):
    """Greedy pixel-wise attack under a perceptual-distance budget."""

    def describe(self) -> str:
        o = self.options
        aim = f", targeted: {self.targeted}" if self.targeted else ""
        return f"iaa (m={o.m}, delta={o.delta:g}, D_max={o.d_max:g}{aim})"

    def generate(self, model, images, labels, epsilon, seed):
        fn = self.compiled(model, self._build, [base.batch_spec(images), base.batch_spec(labels), base.SEED])
        return fn(images, labels, base.seed_tensor(seed))

    def measures(self, images: np.ndarray, adversarial: np.ndarray) -> Dict[str, np.ndarray]:
        images = tf.constant(images, tf.float32)
        sen = sensitivity(images, self.options.min_sd)
        return {"perceptual_distance": perceptual_distance(tf.constant(adversarial, tf.float32), images, sen).numpy()}

    def _build(self, logits_of):
        o = self.options

        def attack(images, labels, seed):
            targets: Optional[tf.Tensor] = None
            if self.targeted:
                targets = base.choose_targets(logits_of(images), labels, self.targeted, seed)
            classes = labels if targets is None else targets
            batch = tf.shape(images)[0]
            sen = tf.reshape(sensitivity(images, o.min_sd), [batch, -1])
            x0 = tf.reshape(images, [batch, -1])
            m = tf.minimum(o.m, tf.shape(x0)[1])

            def step(x, distance, active):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    gap = soft_gap(logits_of(tf.reshape(x, tf.shape(images))), classes, targets is not None,
                                   o.sharpness)
                    total = tf.reduce_sum(gap)
                grad = tape.gradient(total, x)
                moved = tf.clip_by_value(x + o.delta * tf.sign(grad), 0.0, 1.0)
                cost = (tf.abs(moved - x0) - tf.abs(x - x0)) * sen
                priority = tf.abs(grad) / sen
                priority = tf.where(tf.not_equal(moved, x) & (priority > 0), priority, -1.0)
                score, index = tf.math.top_k(priority, k=m)
                cumulative = tf.math.cumsum(tf.gather(cost, index, batch_dims=1), axis=1)
                allowed = (score > 0) & (cumulative <= (o.d_max - distance)[:, None] + 1e-6) & active[:, None]
                allowed = tf.cast(tf.math.cumprod(tf.cast(allowed, tf.int32), axis=1), tf.bool)
                chosen = tf.reduce_sum(tf.one_hot(index, tf.shape(x)[1]) * tf.cast(allowed, tf.float32)[..., None],
                                       axis=1) > 0
                x = tf.where(chosen, moved, x)
                return x, tf.reduce_sum(tf.abs(x - x0) * sen, axis=1), tf.reduce_any(allowed, axis=1)

            def keep_going(i, x, distance, active):
                return (i < o.max_iterations) & tf.reduce_any(active)

            def body(i, x, distance, active):
                x, distance, active = step(x, distance, active)
                return i + 1, x, distance, active

            _, x, _, _ = tf.while_loop(
                keep_going, body, (tf.constant(0), x0, tf.zeros([batch]), tf.ones([batch], tf.bool))
            )
            return tf.reshape(x, tf.shape(images))

        return attack


def iaa(options: IaaConfig) -> IaaAttack:
    return IaaAttack(options)
