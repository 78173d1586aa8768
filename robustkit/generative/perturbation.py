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
  ``[B, H, W, C]`` in [0, 1] and run eagerly or inside a `tf.function`.
"""

from typing import Callable, Optional, Sequence, Tuple

import tensorflow as tf

from robustkit.errors import UserError

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


class PerturbationSetError(UserError, ValueError):
    """A path that holds no CVAE perturbation-set export."""


def project(u: tf.Tensor, radius: float) -> tf.Tensor:
    """Projects each row of ``u`` ``[B, k]`` onto the L2 ball of ``radius``."""
    norm = tf.norm(u, axis=-1, keepdims=True)
    return u * tf.minimum(1.0, radius / tf.maximum(norm, 1e-12))


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
    best_u, best = u, objective(u)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(u)
            value = objective(u)
        grad = tape.gradient(value, u)
        grad /= tf.maximum(tf.norm(grad, axis=-1, keepdims=True), 1e-12)
        u = project(u + step_size * grad, radius)
        value = objective(u)
        better = value > best
        best_u = tf.where(better[:, None], u, best_u)
        best = tf.where(better, value, best)
    return best_u


class PerturbationSet:
    """The learned perturbation set {g(x, mu_p(x) + sigma_p(x) u) : ||u|| <= r} of a CVAE.

    Args:
      prior: ``images -> (mean, stddev)``, each ``[B, k]``.
      generator: ``(images, z) -> perturbed images`` in [0, 1].
      latent_dim: k.
    """

    def __init__(self, prior: Callable[[tf.Tensor], Tuple[tf.Tensor, tf.Tensor]],
                 generator: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], latent_dim: int):
        self._prior = prior
        self._generator = generator
        self.latent_dim = int(latent_dim)

    @classmethod
    def from_model(cls, cvae) -> "PerturbationSet":
        """From a `robustkit.generative.cvae.CVAE` (inference mode)."""
        def prior(images):
            distribution = cvae.prior(images)
            return distribution.mean(), distribution.stddev()

        return cls(prior, cvae.generate, cvae.latent_dim)

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


def _logits_fn(classifier) -> LogitsFn:
    if hasattr(classifier, "layers"):  # A Keras model: inference mode.
        return lambda images: classifier(images, training=False)
    return classifier


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
    perturbed, _ = perturbation_set.worst_case(_logits_fn(classifier), images, labels, radius, steps, step_size,
                                               random_start, seed)
    return perturbed


def load_perturbation_set(path: str) -> PerturbationSet:
    """A `PerturbationSet` from a CVAE export (``<export.dir>/<name>/<version>/``).

    Needs only TensorFlow: the export's ``prior`` and ``generator`` functions
    are differentiable, so `worst_case_images` works on a loaded set.
    """
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

    perturbation_set = PerturbationSet(prior, generator, int(loaded.latent_dim.numpy()))
    perturbation_set.saved_model = loaded  # Keeps the loaded variables alive.
    return perturbation_set
