"""What every attack shares: the call convention, norms, projections, targets (options: `options`).

An attack is called as ``attack(model, images, labels, epsilon=..., seed=...)``
and returns adversarial images of the same shape, in [0, 1]. ``model`` is any
callable from float32 images in [0, 1] to logits (a Keras model, or a loaded
`robustkit.models.loading.Model`). ``epsilon`` is the radius in the attack's
norm, in pixel units of [0, 1]; attacks without one (L-BFGS, IAA) take None.
``seed`` is a pair of integers for the stateless random ops (random starts,
random targets, noise), so a run is reproducible.

Each attack compiles its work with `tf.function` once per model: epsilon and
seed are tensors, so a sweep over epsilons does not retrace.
"""

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.attacks.options import AttackConfig, Norm, SweepConfig, Target  # noqa: F401  (re-exported)

Seed = Tuple[int, int]

_TINY = 1e-12


class Attack:
    """The base of every attack.

    Attributes:
      options: the attack's options (its config block).
      norm: the norm its epsilons are measured in, or None for attacks without
        a radius.
      shares_examples: the adversarial images do not depend on the model scored
        (noise, transfer): they are made once and every model is scored on them.
      targeted: None, ``random`` or ``least_likely``.
      zero_is_clean: epsilon 0 returns the images untouched (false for
        attacks whose outputs differ from the input even at radius 0).
    """

    norm: Optional[str] = None
    shares_examples = False
    zero_is_clean = True

    def __init__(self, options: AttackConfig):
        self.options = options
        self.targeted: Optional[str] = getattr(options, "targeted", None)
        self._compiled: Dict[int, Tuple[Any, Callable]] = {}

    @property
    def epsilons(self) -> List[Optional[float]]:
        """The radii of the sweep, or ``[None]`` for attacks without one."""
        return list(getattr(self.options, "epsilons", None) or [None])

    def __call__(self, model, images, labels, epsilon: Optional[float] = None, seed: Seed = (0, 0)) -> tf.Tensor:
        """Returns adversarial versions of ``images`` (float32 [B, H, W, C] in [0, 1])."""
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
        if self.norm is not None and epsilon is None:
            raise ValueError(f"{self.options.name} needs an epsilon (one of its sweep: {self.epsilons})")
        if epsilon is not None and epsilon == 0 and self.zero_is_clean:
            return images
        return self.generate(model, images, labels, epsilon, seed)

    def generate(self, model, images: tf.Tensor, labels: tf.Tensor, epsilon: Optional[float], seed: Seed):
        raise NotImplementedError

    def compiled(self, model, build: Callable[[Callable], Callable], signature: Sequence[tf.TensorSpec]) -> Callable:
        """``build(logits_fn)`` wrapped in `tf.function` with ``signature``, made (and traced) once per model."""
        key = id(model)
        if key not in self._compiled:
            self._compiled[key] = (model, tf.function(build(logits_fn(model)), input_signature=list(signature)))
        return self._compiled[key][1]

    def targets(self, model, images, labels, seed: Seed = (0, 0)) -> Optional[tf.Tensor]:
        """The classes a targeted attack aims at for these examples (None if untargeted)."""
        if self.targeted is None:
            return None
        images = tf.convert_to_tensor(images, tf.float32)
        return choose_targets(logits_fn(model)(images), tf.cast(labels, tf.int64), self.targeted, seed_tensor(seed))

    def measures(self, images: np.ndarray, adversarial: np.ndarray) -> Dict[str, np.ndarray]:
        """Attack-specific per-example measurements (IAA's perceptual distance)."""
        return {}

    def describe(self) -> str:
        """A short human-readable summary, e.g. ``pgd (linf, 10 iterations)``."""
        parts = [self.norm] if self.norm else []
        if self.targeted:
            parts.append(f"targeted: {self.targeted}")
        return f"{self.options.name} ({', '.join(parts)})" if parts else self.options.name


def logits_fn(model) -> Callable[[tf.Tensor], tf.Tensor]:
    """The model as a function of images; Keras models run in inference mode."""
    if isinstance(model, keras.Model):
        return lambda images: tf.cast(model(images, training=False), tf.float32)
    return lambda images: tf.cast(model(images), tf.float32)


def batch_spec(tensor: tf.Tensor) -> tf.TensorSpec:
    """The spec of ``tensor`` with a free batch dimension."""
    return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)


SCALAR = tf.TensorSpec([], tf.float32)
SEED = tf.TensorSpec([2], tf.int64)
UNROLL_MAX = 20


def loop_range(iterations: int):
    """What an attack's step loop iterates over inside `tf.function`.

    Up to `UNROLL_MAX` steps the loop is unrolled into the graph: for small
    models the per-iteration cost of a ``tf.while_loop`` is a large share of a
    step (PGD-10 on the 28x28 CNN runs about 1.3x faster unrolled). Longer
    loops stay a ``tf.while_loop`` so that the graph and its tracing time do not
    grow with the number of steps.
    """
    return range(iterations) if iterations <= UNROLL_MAX else tf.range(iterations)


def seed_tensor(seed: Seed) -> tf.Tensor:
    return tf.constant([int(seed[0]), int(seed[1])], dtype=tf.int64)


def _expand(values: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """[B] -> [B, 1, ..., 1] matching ``like``'s rank."""
    return tf.reshape(values, tf.concat([tf.shape(values), tf.ones([tf.rank(like) - 1], tf.int32)], 0))


def per_example_norm(delta: tf.Tensor, norm: str) -> tf.Tensor:
    """The L-inf or L2 norm of each example's perturbation, [B]."""
    flat = tf.reshape(delta, [tf.shape(delta)[0], -1])
    if norm == "linf":
        return tf.reduce_max(tf.abs(flat), axis=1)
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1))


def steepest_direction(grad: tf.Tensor, norm: str) -> tf.Tensor:
    """The unit-norm step that increases a linear function with gradient ``grad`` most."""
    if norm == "linf":
        return tf.sign(grad)
    return grad / _expand(tf.maximum(per_example_norm(grad, "l2"), _TINY), grad)


def project(delta: tf.Tensor, epsilon: tf.Tensor, norm: str) -> tf.Tensor:
    """Projects each example's perturbation onto the ``epsilon`` ball."""
    if norm == "linf":
        return tf.clip_by_value(delta, -epsilon, epsilon)
    scale = tf.minimum(1.0, epsilon / tf.maximum(per_example_norm(delta, "l2"), _TINY))
    return delta * _expand(scale, delta)


def random_in_ball(shape: tf.Tensor, epsilon: tf.Tensor, norm: str, seed: tf.Tensor) -> tf.Tensor:
    """A uniform draw from the ``epsilon`` ball, per example (stateless)."""
    if norm == "linf":
        return tf.random.stateless_uniform(shape, seed, -1.0, 1.0) * epsilon
    direction = tf.random.stateless_normal(shape, seed)
    direction = direction / _expand(tf.maximum(per_example_norm(direction, "l2"), _TINY), direction)
    dims = tf.cast(tf.reduce_prod(shape[1:]), tf.float32)
    radius = epsilon * tf.random.stateless_uniform(shape[:1], seed + 1) ** (1.0 / dims)
    return direction * _expand(radius, direction)


def choose_targets(logits: tf.Tensor, labels: tf.Tensor, mode: str, seed: tf.Tensor) -> tf.Tensor:
    """Target classes: a random class other than the label, or the least likely one."""
    num_classes = tf.shape(logits, out_type=tf.int64)[1]
    if mode == "least_likely":
        return tf.argmin(logits, axis=-1, output_type=tf.int64)
    offset = tf.random.stateless_uniform(tf.shape(labels), seed + 7, 1, num_classes, dtype=tf.int64)
    return (labels + offset) % num_classes


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def margin(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Carlini and Wagner's margin: the best other logit minus the label's logit."""
    mask = tf.one_hot(labels, tf.shape(logits)[1]) > 0
    own = tf.reduce_sum(tf.where(mask, logits, 0.0), axis=1)
    other = tf.reduce_max(tf.where(mask, tf.float32.min, logits), axis=1)
    return other - own


def objective(logits: tf.Tensor, labels: tf.Tensor, targets: Optional[tf.Tensor], loss: str) -> tf.Tensor:
    """What the attacker maximises, per example: away from the label, or towards the target."""
    fn = cross_entropy if loss == "cross_entropy" else margin
    if targets is None:
        return fn(logits, labels)
    return -fn(logits, targets)


def is_success(logits: tf.Tensor, labels: tf.Tensor, targets: Optional[tf.Tensor]) -> tf.Tensor:
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int64)
    return tf.equal(predicted, targets) if targets is not None else tf.not_equal(predicted, labels)


def check_l2_epsilons(epsilons: Sequence[float], image_shape: Sequence[int], where: str) -> None:
    """Fails if an L2 radius exceeds the diagonal of the pixel cube [0, 1]^(H*W*C)."""
    diagonal = math.sqrt(float(np.prod(image_shape)))
    for eps in epsilons:
        if eps > diagonal:
            raise ValueError(
                f"{where}: L2 epsilon {eps} exceeds sqrt(H * W * C) = {diagonal:.2f}, the largest distance "
                f"between two images of shape {tuple(image_shape)} in [0, 1]"
            )
