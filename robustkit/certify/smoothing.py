"""Counts a base classifier's classes on Gaussian-noised copies of each example, compiled and spread over replicas.

Randomized smoothing (Cohen, Rosenfeld & Kolter, 2019) needs, for every
example, the class counts of the base classifier on ``n0`` selection draws and
``n`` estimation draws of noise (and PREDICT's own draws). `NoiseCounter` makes
them with one compiled call per group of examples: each replica of the strategy
takes one whole example, loops over its draws in chunks of ``batch_size``
noisy copies inside the graph, and returns its counts, which every worker then
gathers. Under MultiWorkerMirroredStrategy the examples are thereby shared out
over the workers' replicas.

Every draw is a function of the seed, the example's index, the phase
(selection, estimation, prediction, ...) and the chunk alone, so the counts are
the same whatever the number of replicas and whichever replica takes an example.

Where the noise is added is a `Space`: `PixelSpace` adds ``sigma * eps`` to
the image (in [0, 1], never clipped); `LatentSpace` adds it to the whitened
latent code ``u`` of a learned perturbation set (Wong & Kolter, 2020) and
classifies the generator's image ``g(x, mu_p(x) + sigma_p(x) * u)``.
"""

import time
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

PHASE_SELECTION, PHASE_ESTIMATION, PHASE_PREDICTION = 0, 1, 2
PHASE_ATTACKED, PHASE_CONTROL = 3, 4

LogitsFn = Callable[[tf.Tensor], tf.Tensor]


class PixelSpace:
    """Noise on the pixels: the smoothed classifier of Cohen et al. (2019); radii are L2 in pixel units."""

    name = "pixel"

    def __init__(self, logits_fn: LogitsFn, image_shape: Sequence[int]):
        self.logits_fn = logits_fn
        self.noise_shape = tuple(int(d) for d in image_shape)

    def prepare(self, images: tf.Tensor) -> Tuple[tf.Tensor, ...]:
        return (images,)

    def centers(self, state: Tuple[tf.Tensor, ...]) -> tf.Tensor:
        return state[0]

    def logits(self, state: Tuple[tf.Tensor, ...], points: tf.Tensor) -> tf.Tensor:
        """``points`` ``[B, m, H, W, C]`` (images, unclipped) -> logits ``[B, m, classes]``."""
        shape = tf.shape(points)
        flat = tf.reshape(points, tf.concat([[shape[0] * shape[1]], self.noise_shape], 0))
        out = tf.cast(self.logits_fn(flat), tf.float32)
        return tf.reshape(out, [shape[0], shape[1], -1])


class LatentSpace:
    """Noise on the whitened latent code ``u`` of a learned perturbation set; radii are L2 in ``u``.

    Args:
      logits_fn: the classifier.
      perturbation_set: a `robustkit.generative.perturbation.PerturbationSet`
        already fitted to the classifier's input shape (``for_shape``).
    """

    name = "latent"

    def __init__(self, logits_fn: LogitsFn, perturbation_set):
        self.logits_fn = logits_fn
        self.set = perturbation_set
        self.noise_shape = (int(perturbation_set.latent_dim),)

    def prepare(self, images: tf.Tensor) -> Tuple[tf.Tensor, ...]:
        return (images,)

    def centers(self, state: Tuple[tf.Tensor, ...]) -> tf.Tensor:
        return tf.zeros([tf.shape(state[0])[0], self.noise_shape[0]], tf.float32)

    def logits(self, state: Tuple[tf.Tensor, ...], points: tf.Tensor) -> tf.Tensor:
        """``points`` ``[B, m, k]`` (whitened codes) -> logits ``[B, m, classes]`` of the generated images."""
        images = state[0]
        m = tf.shape(points)[1]
        generated = self.set.perturb(tf.repeat(images, m, axis=0), tf.reshape(points, [-1, self.noise_shape[0]]))
        out = tf.cast(self.logits_fn(generated), tf.float32)
        return tf.reshape(out, [tf.shape(points)[0], m, -1])


def noise(seed: tf.Tensor, index: tf.Tensor, phase: int, chunk: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """The standard normal draws of one chunk of one example: a function of these arguments alone.

    Philox is named rather than left to the device's choice, so CPUs and GPUs draw the same numbers.
    """
    fold = tf.random.experimental.stateless_fold_in
    key = fold(fold(fold(seed, tf.cast(index, tf.int64), alg="philox"), phase, alg="philox"),
               tf.cast(chunk, tf.int64), alg="philox")
    return tf.random.stateless_normal(shape, key, alg="philox")


class NoiseCounter:
    """The base classifier's class counts on noisy copies of examples, under a `tf.distribute` strategy.

    Args:
      strategy: the strategy; each replica takes one example per call.
      space: where the noise goes (`PixelSpace`, `LatentSpace`).
      num_classes: the classifier's number of classes.
      batch_size: noisy copies per forward pass.
      seed: seeds every draw.
    """

    def __init__(self, strategy: tf.distribute.Strategy, space, num_classes: int, batch_size: int, seed: int):
        self.strategy = strategy
        self.space = space
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        self.seed = tf.constant([int(seed), 0x5EED], tf.int64)
        self._steps = {}

    def _counts(self, state, center, index, sigma, phase: int, n: int) -> tf.Tensor:
        """The counts ``[C]`` of ``n`` draws of one example, in chunks of ``batch_size``."""
        full, rest = divmod(int(n), self.batch_size)
        shape = self.space.noise_shape

        def chunk_counts(chunk, size):
            eps = noise(self.seed, index, phase, chunk, [size, *shape])
            logits = self.space.logits(state, center[None] + sigma * eps[None])[0]
            return tf.reduce_sum(tf.one_hot(tf.argmax(logits, axis=-1), self.num_classes, dtype=tf.int32), axis=0)

        counts = tf.zeros([self.num_classes], tf.int32)
        if full:
            _, counts = tf.while_loop(
                lambda c, _: c < full,
                lambda c, acc: (c + 1, acc + chunk_counts(c, self.batch_size)),
                (tf.constant(0, tf.int64), counts))
        if rest:
            counts += chunk_counts(tf.constant(full, tf.int64), rest)
        return counts

    def _step(self, draws: Tuple[Tuple[int, int], ...]):
        if draws in self._steps:
            return self._steps[draws]

        def one(image, center, index, sigma):
            state = self.space.prepare(image)
            center = center[0] if center is not None else self.space.centers(state)[0]
            return tf.stack([self._counts(state, center, index[0], sigma, phase, n) for phase, n in draws])[None]

        @tf.function
        def step(images, centers, indices, sigma):
            out = self.strategy.run(one, args=(images, centers, indices, sigma))
            return self.strategy.gather(out, axis=0)

        self._steps[draws] = step
        return step

    def count(self, images: np.ndarray, indices: np.ndarray, sigma: float, draws: Sequence[Tuple[int, int]],
              centers: Optional[np.ndarray] = None, progress: Optional[Callable[[int], None]] = None
              ) -> Tuple[np.ndarray, np.ndarray]:
        """Class counts of every example for every ``(phase, n)`` of ``draws``.

        Args:
          images: float32 ``[N, H, W, C]`` in [0, 1].
          indices: ``[N]`` the examples' indices in their split (they key the noise).
          sigma: the noise level.
          draws: ``(phase, n)`` pairs: n draws keyed by that phase.
          centers: ``[N, *noise_shape]`` where the noise is centred (None: the
            images themselves, or the latent code 0).
          progress: called with the number of examples done after each call.

        Returns:
          ``(counts [N, len(draws), C] int64, seconds [N])``: each example's
          share of the wall time of the call that counted it.
        """
        draws = tuple((int(p), int(n)) for p, n in draws)
        step = self._step(draws)
        replicas = self.strategy.num_replicas_in_sync
        images = np.asarray(images, np.float32)
        total = len(images)
        counts = np.zeros((total, len(draws), self.num_classes), np.int64)
        seconds = np.zeros(total, np.float64)
        sigma_t = tf.constant(sigma, tf.float32)
        for start in range(0, total, replicas):
            rows = list(range(start, min(start + replicas, total)))
            padded = rows + [rows[-1]] * (replicas - len(rows))  # Extra replicas repeat the last example.
            batch = self._distribute(images[padded], None if centers is None else np.asarray(centers,
                                                                                             np.float32)[padded],
                                     np.asarray(indices, np.int64)[padded])
            began = time.perf_counter()
            out = step(*batch, sigma_t).numpy()
            spent = time.perf_counter() - began
            counts[rows] = out[:len(rows)]
            seconds[rows] = spent / len(rows)
            if progress is not None:
                progress(len(rows))
        return counts, seconds

    def _distribute(self, images: np.ndarray, centers: Optional[np.ndarray], indices: np.ndarray):
        """Row ``r`` of each array to replica ``r`` (its global replica id across workers)."""
        def row(array):
            if array is None:
                return None
            return self.strategy.experimental_distribute_values_from_function(
                lambda ctx: tf.constant(array[ctx.replica_id_in_sync_group][None]))

        return row(images), row(centers), row(indices)


class SmoothedPGD:
    """PGD on the smoothed classifier within per-example L2 radii around given centres (Salman et al., 2019).

    Each step estimates the smoothed classifier's expected softmax from
    ``samples`` fresh noise draws per example, takes an L2-normalised gradient
    step of ``2.5 * radius / steps`` on the cross-entropy of the labels and
    projects back onto the ball of each example's radius around its centre.
    Compiled once per space, steps and samples; radii, sigma and seed are tensors.

    Args:
      space: where the noise goes (`PixelSpace`, `LatentSpace`).
      steps: PGD steps.
      samples: noise draws per example and step.
    """

    def __init__(self, space, steps: int, samples: int):
        self.space, self.steps, self.samples = space, int(steps), int(samples)
        self._fn = tf.function(self._attack)

    def _attack(self, images, centers, labels, radii, sigma, key):
        from robustkit.attacks import base

        space = self.space
        state = space.prepare(images)
        step_size = tf.reshape(2.5 * radii / self.steps, [-1] + [1] * len(space.noise_shape))
        batch = tf.shape(centers)[0]

        def step(i, delta):
            eps = tf.random.stateless_normal(tf.concat([[batch, self.samples], space.noise_shape], 0),
                                             tf.random.experimental.stateless_fold_in(key, i))
            with tf.GradientTape() as tape:
                tape.watch(delta)
                logits = space.logits(state, (centers + delta)[:, None] + sigma * eps)
                expected = tf.reduce_mean(tf.nn.softmax(logits, axis=-1), axis=1)
                loss = -tf.math.log(tf.gather(expected, labels, batch_dims=1) + 1e-12)
            grad = tape.gradient(loss, delta)
            return i + 1, base.project(delta + step_size * base.steepest_direction(grad, "l2"), radii, "l2")

        _, delta = tf.while_loop(lambda i, _: i < self.steps, step, (tf.constant(0, tf.int64), tf.zeros_like(centers)))
        return centers + delta

    def __call__(self, images: np.ndarray, centers: np.ndarray, labels: np.ndarray, radii: np.ndarray, sigma: float,
                 seed: int) -> np.ndarray:
        """The attacked centres ``[B, *noise_shape]``: images in pixel space, whitened codes in latent space."""
        return self._fn(tf.constant(np.asarray(images, np.float32)), tf.constant(np.asarray(centers, np.float32)),
                        tf.constant(np.asarray(labels, np.int64)), tf.constant(np.asarray(radii, np.float32)),
                        tf.constant(sigma, tf.float32), tf.constant([int(seed), 0xA77AC], tf.int64)).numpy()


def base_accuracy(logits_fn: LogitsFn, images: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    """The base classifier's accuracy on the clean images."""
    correct: List[np.ndarray] = []
    for start in range(0, len(images), batch_size):
        logits = logits_fn(tf.constant(images[start:start + batch_size], tf.float32))
        correct.append(np.argmax(np.asarray(logits), axis=-1) == labels[start:start + batch_size])
    return float(np.mean(np.concatenate(correct))) if correct else 0.0
