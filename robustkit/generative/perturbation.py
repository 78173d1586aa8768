"""Learned perturbation sets: draw from them and find a classifier's worst case inside them.

Following Wong & Kolter, "Learning perturbation sets for robust machine
learning" (2020), the perturbation set of an image x under a CVAE is

    S(x, r) = {g(x, mu_p(x) + sigma_p(x) * u) : ||u||_2 <= r},

the generator's images of the latent ball of radius r around the prior mean,
measured in units of the prior's standard deviation (``u`` is the normalised
latent code). `PerturbationSet` wraps the two functions this needs, the prior
``x -> (mu_p, sigma_p)`` and the generator ``(x, z) -> image``, taken from a
trained `robustkit.generative.cvae.CVAE` or from its SavedModel export, so
attacks and training code need neither TFP nor the training config.

Entry points for other modules:

- ``PerturbationSet.from_model(cvae)`` / ``load_perturbation_set(path)``;
- `random_perturbation` (data augmentation) and `worst_case_images` (the
  ``cvae`` attack, adversarial training); both take and return float32 images
  ``[B, H, W, C]`` in [0, 1] and run eagerly or inside a `tf.function`;
  `make_attack` binds the latter into an attack ``(model, images, labels) -> images``.
"""

import os
from typing import Callable, Optional, Sequence, Tuple

import tensorflow as tf

from robustkit.attacks import base
from robustkit.errors import UserError
from robustkit.models.paths import ModelPathError, resolve_model_path

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


class PerturbationSetError(UserError, ValueError):
    """A path that holds no CVAE perturbation-set export."""


def project(u: tf.Tensor, radius: float) -> tf.Tensor:
    """Projects each row of ``u`` ``[B, k]`` onto the L2 ball of ``radius`` (the attacks' projection)."""
    return base.project(u, tf.cast(radius, u.dtype), "l2")


def sample_ball(shape, radius: float, seed: Sequence[int]) -> tf.Tensor:
    """Points uniform in the L2 ball of ``radius`` in ``shape[-1]`` dimensions, ``shape = [..., k]``."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    shape = tf.convert_to_tensor(shape, tf.int32)
    direction = tf.random.stateless_normal(shape, seed=seed)
    direction /= tf.maximum(tf.norm(direction, axis=-1, keepdims=True), 1e-12)
    k = tf.cast(shape[-1], tf.float32)
    length = tf.random.stateless_uniform(tf.concat([shape[:-1], [1]], axis=0), seed=seed + 1) ** (1.0 / k)
    return direction * length * radius


def latent_pgd(objective: Callable[[tf.Tensor], tf.Tensor], u0: tf.Tensor, radius: float, steps: int,
               step_size: Optional[float] = None) -> tf.Tensor:
    """Maximises a per-example ``objective(u)`` ``[B]`` over ``||u|| <= radius`` by normalised gradient ascent.

    Each step moves every row by ``step_size`` along its L2-normalised gradient,
    then projects back onto the ball (Madry et al., 2018, in latent space). The
    best point seen per example is returned, so the result is never worse than
    ``u0`` (after projection).

    Args:
      objective: the per-example value to maximise.
      u0: the start ``[B, k]``.
      radius: the ball's radius.
      steps: the number of steps.
      step_size: the L2 length of a step (None: ``2.5 * radius / steps``).
    """
    step_size = 2.5 * radius / steps if step_size is None else step_size
    u = project(tf.convert_to_tensor(u0, tf.float32), radius)
    best_u, best = u, None
    for step in range(steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(u)
            value = objective(u)
        if best is None:
            best_u, best = u, value
        else:
            better = value > best
            best_u = tf.where(better[:, None], u, best_u)
            best = tf.where(better, value, best)
        if step == steps:
            break
        grad = tape.gradient(value, u)
        grad /= tf.maximum(tf.norm(grad, axis=-1, keepdims=True), 1e-12)
        u = project(u + step_size * grad, radius)
    return best_u


class PerturbationSet:
    """The learned perturbation set {g(x, mu_p(x) + sigma_p(x) u) : ||u|| <= r} of a CVAE.

    Args:
      prior: ``images -> (mean, stddev)``, each ``[B, k]``.
      generator: ``(images, z) -> perturbed images`` in [0, 1].
      latent_dim: k.
      image_shape: ``(H, W, C)`` of the images the set was learned on, or
        None when unknown (then images are passed as they are).
    """

    def __init__(self, prior: Callable[[tf.Tensor], Tuple[tf.Tensor, tf.Tensor]],
                 generator: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], latent_dim: int,
                 image_shape: Optional[Sequence[int]] = None):
        self._prior = prior
        self._generator = generator
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape) if image_shape is not None else None

    @classmethod
    def from_model(cls, cvae) -> "PerturbationSet":
        """From a `robustkit.generative.cvae.CVAE` (inference mode)."""
        def prior(images):
            distribution = cvae.prior(images)
            return distribution.mean(), distribution.stddev()

        return cls(prior, cvae.generate, cvae.latent_dim, cvae.image_shape)

    def for_shape(self, shape: Sequence[int]) -> "PerturbationSet":
        """This set for images of another ``(H, W, C)``, e.g. a classifier's input.

        Images are resized (bilinear) to the set's own shape and converted
        between grey and RGB before the prior and generator see them, and the
        generated images are converted back, so the set's perturbations are
        drawn at its own resolution and shown at the caller's. Both conversions
        are differentiable. The same set is returned when the shapes agree.
        """
        shape = tuple(int(d) for d in shape)
        if self.image_shape is None or shape == self.image_shape:
            return self
        own = self.image_shape

        def to_set(images):
            return _convert(images, own)

        def prior(images):
            return self._prior(to_set(images))

        def generator(images, z):
            return _convert(self._generator(to_set(images), z), shape)

        return PerturbationSet(prior, generator, self.latent_dim, shape)

    def prior(self, images: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        return self._prior(tf.convert_to_tensor(images, tf.float32))

    def perturb(self, images: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
        """g(x, mu_p + sigma_p * u) for normalised codes ``u`` ``[B, k]``."""
        images = tf.convert_to_tensor(images, tf.float32)
        mean, std = self.prior(images)
        return self._generator(images, mean + std * u)

    def sample(self, images: tf.Tensor, n: int, radius: float, seed: Sequence[int] = (0, 0)) -> tf.Tensor:
        """``n`` draws per image, uniform in the latent ball: ``[n, B, H, W, C]``."""
        images = tf.convert_to_tensor(images, tf.float32)
        u = sample_ball(tf.stack([n * tf.shape(images)[0], self.latent_dim]), radius, seed)
        tiled = tf.tile(images, [n, 1, 1, 1])
        out = self.perturb(tiled, u)
        return tf.reshape(out, tf.concat([[n], tf.shape(images)], axis=0))

    def worst_case(self, logits_fn: LogitsFn, images: tf.Tensor, labels: tf.Tensor, radius: float,
                   steps: int = 10, step_size: Optional[float] = None, random_start: bool = False,
                   seed: Sequence[int] = (0, 0)) -> Tuple[tf.Tensor, tf.Tensor]:
        """The images of the set with the highest cross-entropy of ``logits_fn``, by PGD over u.

        Args:
          logits_fn: ``images -> logits`` of the classifier under attack.
          images: float32 ``[B, H, W, C]`` in [0, 1].
          labels: int ``[B]``, the true classes.
          radius: the radius of the normalised latent ball.
          steps: PGD steps.
          step_size: the L2 step in u (None: 2.5 * radius / steps).
          random_start: start from a uniform point of the ball instead of u = 0.
          seed: seeds the random start.

        Returns:
          ``(perturbed images, u)``.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.cast(labels, tf.int64)
        mean, std = self.prior(images)
        mean, std = tf.stop_gradient(mean), tf.stop_gradient(std)

        def loss(u):
            logits = tf.cast(logits_fn(self._generator(images, mean + std * u)), tf.float32)
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

        u0 = sample_ball(tf.shape(mean), radius, seed) if random_start else tf.zeros_like(mean)
        u = tf.stop_gradient(latent_pgd(loss, u0, radius, steps, step_size))
        return self._generator(images, mean + std * u), u


def _convert(images: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """Resizes ``images`` ``[B, h, w, c]`` to ``shape[:2]`` and converts them to ``shape[2]`` channels."""
    height, width, channels = shape
    if tuple(images.shape[1:3]) != (height, width):
        images = tf.image.resize(images, [height, width], method="bilinear")
    have = images.shape[-1]
    if have != channels:
        if have == 1:
            images = tf.tile(images, [1, 1, 1, channels])
        elif channels == 1 and have == 3:
            images = tf.image.rgb_to_grayscale(images)
        else:
            raise ValueError(f"cannot convert images of {have} channels to {channels}")
    return tf.clip_by_value(images, 0.0, 1.0)


def random_perturbation(perturbation_set: PerturbationSet, images: tf.Tensor, radius: float,
                        seed: Sequence[int] = (0, 0)) -> tf.Tensor:
    """One draw per image from the set, uniform in the latent ball (data augmentation)."""
    return perturbation_set.sample(images, 1, radius, seed)[0]


def worst_case_images(classifier, images: tf.Tensor, labels: tf.Tensor, perturbation_set: PerturbationSet,
                      radius: float, steps: int = 10, step_size: Optional[float] = None,
                      random_start: bool = False, seed: Sequence[int] = (0, 0)) -> tf.Tensor:
    """The ``cvae`` attack: each image replaced by its classifier's worst case in the learned set.

    Args:
      classifier: a Keras model (called with ``training=False``) or any ``images -> logits`` function.
      images: float32 ``[B, H, W, C]`` in [0, 1].
      labels: int ``[B]``.
      perturbation_set: the learned set (`PerturbationSet.from_model`, `load_perturbation_set`).
      radius, steps, step_size, random_start, seed: as in `PerturbationSet.worst_case`.

    Returns:
      float32 images ``[B, H, W, C]`` in [0, 1].
    """
    perturbed, _ = perturbation_set.worst_case(base.logits_fn(classifier), images, labels, radius, steps, step_size,
                                               random_start, seed)
    return perturbed


def make_attack(perturbation_set: PerturbationSet, radius: float, steps: int = 10,
                step_size: Optional[float] = None, random_start: bool = False,
                seed: Sequence[int] = (0, 0)) -> Callable[..., tf.Tensor]:
    """`worst_case_images` bound to a set, as an attack ``(model, images, labels) -> images``."""
    def attack(model, images, labels):
        return worst_case_images(model, images, labels, perturbation_set, radius, steps, step_size, random_start,
                                 seed)

    return attack


def load_perturbation_set(path: str) -> PerturbationSet:
    """A `PerturbationSet` from a CVAE export (``<export.dir>/<name>/<version>/``, or the model root).

    Needs only TensorFlow: the export's ``prior`` and ``generator`` functions
    are differentiable, so `worst_case_images` works on a loaded set. A model
    root of numbered versions loads its highest version.
    """
    where = ("pass the CVAE export a task: cvae run printed as 'exported: <path>', or its model root of "
             "numbered versions")
    if not os.path.isdir(path):
        state = "is a file" if os.path.exists(path) else "does not exist"
        raise PerturbationSetError(f"perturbation set path {path!r} {state}; {where}")
    try:
        path = resolve_model_path(path, what="perturbation set")
    except ModelPathError:
        raise PerturbationSetError(
            f"perturbation set path {path!r} holds no saved_model.pb and no numbered versions; {where}") from None
    try:
        loaded = tf.saved_model.load(path)
    except (OSError, ValueError) as err:
        raise PerturbationSetError(f"cannot load a perturbation set from {path!r}: {err}") from err
    if not hasattr(loaded, "prior_fn") or not hasattr(loaded, "generator_fn"):
        raise PerturbationSetError(
            f"{path!r} is a SavedModel but not a CVAE export of robustkit (it has no prior_fn and generator_fn); "
            "pass the version directory a task: cvae run printed as 'exported: <path>'"
        )

    def prior(images):
        out = loaded.prior_fn(images)
        return out["mean"], out["stddev"]

    def generator(images, z):
        return loaded.generator_fn(images, z)["image"]

    spec = loaded.signatures["prior"].structured_input_signature[1]["image"]
    perturbation_set = PerturbationSet(prior, generator, int(loaded.latent_dim.numpy()), spec.shape[1:])
    perturbation_set.saved_model = loaded  # Keeps the loaded variables alive.
    return perturbation_set
