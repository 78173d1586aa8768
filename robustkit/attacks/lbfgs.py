"""The box-constrained L-BFGS attack of Szegedy et al. (2014), "Intriguing Properties of Neural Networks".

For a target class ``t`` != label, find the adversarial image ``x'`` in the box
[0, 1] minimising

    c * ||x' - x||_2^2 + CE(f(x'), t)

with L-BFGS-B (SciPy's, which keeps ``x'`` inside the box exactly), and search
over ``c`` per example for the largest value whose minimiser is still
classified as ``t``: a larger ``c`` weighs the distance more and gives a smaller
perturbation. The squared L2 norm (rather than the norm) keeps the objective
smooth at ``x' = x``, as common implementations do.

The search per example: start at ``c_init``; after a success multiply ``c`` by
``c_factor`` (or bisect geometrically once a failure bounds it from above);
after a failure divide it (or bisect once a success bounds it from below). The
result is the smallest successful perturbation found, else the attempt made
with the smallest ``c``. The objective and its gradient are one compiled
TensorFlow function over the whole batch; the per-example problems are
independent, so one L-BFGS-B run over the batch solves them together.
"""

import numpy as np
import scipy.optimize
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import LbfgsConfig


class LbfgsAttack(base.Attack):
    """Szegedy et al.'s attack with a per-example search over ``c``."""

    def describe(self) -> str:
        return f"lbfgs (targeted: {self.targeted}, {self.options.search_steps} values of c)"

    def generate(self, model, images, labels, epsilon, seed):
        value_and_grad = self.compiled(model, self._build, [base.batch_spec(images), base.batch_spec(images),
                                                            base.batch_spec(labels), tf.TensorSpec([None], tf.float32)])
        logits_of = base.logits_fn(model)
        targets = base.choose_targets(logits_of(images), labels, self.targeted, base.seed_tensor(seed))
        x0 = images.numpy()
        batch = x0.shape[0]
        c = np.full(batch, self.options.c_init, np.float32)
        low = np.zeros(batch, np.float32)
        high = np.full(batch, np.inf, np.float32)
        best = x0.copy()
        best_norm = np.full(batch, np.inf, np.float32)
        fallback = x0.copy()
        fallback_c = np.full(batch, np.inf, np.float32)
        for _ in range(self.options.search_steps):
            x = self.minimise(value_and_grad, x0, targets, c)
            success = np.argmax(logits_of(tf.constant(x)).numpy(), axis=-1) == targets.numpy()
            norms = np.sqrt(np.sum(np.square(x - x0).reshape(batch, -1), axis=1))
            better = success & (norms < best_norm)
            best[better], best_norm[better] = x[better], norms[better]
            weaker = c < fallback_c
            fallback[weaker], fallback_c[weaker] = x[weaker], c[weaker]
            low = np.where(success, c, low)
            high = np.where(success, high, c)
            bracketed = np.sqrt(low * np.where(np.isinf(high), 1.0, high))
            grow = np.where(success, c * self.options.c_factor, c / self.options.c_factor)
            c = np.where((low > 0) & np.isfinite(high), bracketed, grow).astype(np.float32)
        found = np.isfinite(best_norm).reshape([-1] + [1] * (x0.ndim - 1))
        return tf.constant(np.where(found, best, fallback))

    def minimise(self, value_and_grad, x0: np.ndarray, targets: tf.Tensor, c: np.ndarray) -> np.ndarray:
        """One L-BFGS-B run from ``x0`` for fixed per-example weights ``c``."""
        shape = x0.shape
        x0_t, c_t = tf.constant(x0), tf.constant(c)

        def fun(flat):
            value, grad = value_and_grad(tf.constant(flat.reshape(shape), tf.float32), x0_t, targets, c_t)
            return float(value.numpy()), grad.numpy().ravel().astype(np.float64)

        result = scipy.optimize.minimize(
            fun, x0.ravel().astype(np.float64), jac=True, method="L-BFGS-B",
            bounds=scipy.optimize.Bounds(0.0, 1.0), options={"maxiter": self.options.iterations},
        )
        return np.clip(result.x.reshape(shape), 0.0, 1.0).astype(np.float32)

    def _build(self, logits_of):
        def value_and_grad(x, x0, targets, c):
            with tf.GradientTape() as tape:
                tape.watch(x)
                distance = tf.reduce_sum(tf.reshape(tf.square(x - x0), [tf.shape(x)[0], -1]), axis=1)
                value = tf.reduce_sum(c * distance + base.cross_entropy(logits_of(x), targets))
            return value, tape.gradient(value, x)

        return value_and_grad


def lbfgs(options: LbfgsConfig) -> LbfgsAttack:
    return LbfgsAttack(options)
