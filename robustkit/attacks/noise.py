"""Random noise of the same norm as an attack's epsilon: the baseline every attack must beat.

Carlini et al. (2019), "On Evaluating Adversarial Robustness", section 5: an
attack weaker than random noise of the same size points to a broken attack or
masked gradients. Each example gets a uniform or Gaussian draw rescaled so that
its L-inf or L2 norm is exactly epsilon, then the image is clipped to [0, 1]
(which can only shrink the perturbation). The noisy images do not depend on the
model, so every model is scored on the same ones.
"""

import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import NoiseConfig


class NoiseAttack(base.Attack):
    """Adds seeded noise of norm epsilon; ignores the model."""

    shares_examples = True

    def __init__(self, options: NoiseConfig):
        super().__init__(options)
        self.norm = options.norm

    def describe(self) -> str:
        return f"noise ({self.norm}, {self.options.distribution})"

    def generate(self, model, images, labels, epsilon, seed):
        fn = self.compiled(None, lambda _: self._noise, [base.batch_spec(images), base.SCALAR, base.SEED])
        return fn(images, tf.constant(epsilon, tf.float32), base.seed_tensor(seed))

    def _noise(self, images, epsilon, seed):
        shape = tf.shape(images)
        if self.options.distribution == "uniform":
            draw = tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
        else:
            draw = tf.random.stateless_normal(shape, seed)
        size = tf.maximum(base.per_example_norm(draw, self.norm), 1e-12)
        noise = draw * tf.reshape(epsilon / size, [-1, 1, 1, 1])
        return tf.clip_by_value(images + noise, 0.0, 1.0)


def noise(options: NoiseConfig) -> NoiseAttack:
    return NoiseAttack(options)
