"""The Square attack of Andriushchenko et al. (2020): score-based, forward passes only.

Andriushchenko, Croce, Flammarion and Hein (2020), "Square Attack: a
query-efficient black-box adversarial attack via random search", ECCV. Random
search on the margin loss ``z_y - max_{i != y} z_i``: each query changes one
random square window of side ``round(sqrt(p * H * W))`` and keeps the change if
the margin fell. The fraction ``p`` starts at ``p_init`` (0.8) and is halved
after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 (with
``rescale_schedule`` those points are scaled to the query budget, as in the
paper; AutoAttack does not scale them).

- L-inf: the start is vertical stripes of +-epsilon; a window is set to
  ``x +- epsilon``, one sign per channel.
- L2: the start is a grid of windows holding the paper's centred pattern; an
  update moves the perturbation's mass from a second window into the first,
  keeping the total L2 norm at epsilon.

The model is only ever called forward, so any callable from images to logits
works, including a SavedModel whose only signature is ``serving_default``.
``queries`` counts every forward pass per example, the starting point
included, and never passes ``queries`` of the options.

Example:
  >>> attack = square(SquareConfig(epsilons=[0.1], queries=1000))
  >>> adversarial = attack(model, images, labels, epsilon=0.1, seed=(0, 1))
"""

from typing import Tuple

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.autoattack_options import SquareConfig

SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
SEGMENT = 200  # Iterations per compiled call; between calls fooled examples leave the batch.


def centred_pattern(size: int) -> np.ndarray:
    """The paper's L2 window: two halves of nested squares weighted 1/r^2, of opposite sign, unit norm."""

    def half(rows: int, cols: int) -> np.ndarray:
        pattern = np.zeros((rows, cols))
        centre_r, centre_c = rows // 2, cols // 2
        for ring in range(max(centre_r, centre_c) + 1):
            pattern[max(centre_r - ring, 0):min(centre_r + ring + 1, rows),
                    max(centre_c - ring, 0):min(centre_c + ring + 1, cols)] += 1.0 / (ring + 1) ** 2
        return pattern / np.sqrt(np.sum(pattern ** 2))

    out = np.concatenate([half(size // 2, size), -half(size - size // 2, size)], axis=0)
    return (out / np.sqrt(np.sum(out ** 2))).astype(np.float32)


def fraction(iteration: tf.Tensor, p_init: float, queries: int, rescale: bool) -> tf.Tensor:
    """The window fraction p at ``iteration`` (0-based)."""
    it = tf.cast(iteration, tf.float32)
    if rescale:
        it = tf.floor(it / queries * 10000.0)
    halvings = tf.add_n([tf.cast(it > point, tf.float32) for point in SCHEDULE])
    return p_init / tf.pow(2.0, halvings)


class Square(base.Attack):
    """The Square attack: see the module docstring."""

    def __init__(self, options: SquareConfig):
        super().__init__(options)
        self.norm = options.norm

    def describe(self) -> str:
        return f"{self.options.name} ({self.norm}, {self.options.queries} queries)"

    def generate(self, model, images, labels, epsilon, seed):
        return self.attack(model, images, labels, epsilon, seed)[0]

    def attack(self, model, images, labels, epsilon, seed) -> Tuple[tf.Tensor, np.ndarray, np.ndarray]:
        """Adversarial images, whether each example was fooled, and the queries spent on each."""
        self._image_shape = tuple(images.shape[1:])
        spec = [base.batch_spec(images), base.batch_spec(labels), base.SCALAR, base.SEED]
        start = self.compiled(("start", id(model), self._image_shape), model, self._build_start, spec)
        x, margin, loss = start(images, labels, tf.constant(epsilon, tf.float32), base.seed_tensor(seed))
        x, margin, loss = x.numpy(), margin.numpy(), loss.numpy()
        queries = np.ones(len(x), np.int64)
        iterations = self.options.queries - 1
        segment = self.compiled(("segment", id(model), self._image_shape), model, self._build_segment, [
            *spec[:2], tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32), base.batch_spec(images),
            base.SCALAR, base.SEED, tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
        done = 0
        while done < iterations:
            todo = np.flatnonzero(margin > 0)
            if not len(todo):
                break
            count = min(SEGMENT, iterations - done)
            out = segment(tf.gather(images, todo), tf.gather(labels, todo), tf.constant(margin[todo]),
                          tf.constant(loss[todo]), tf.constant(x[todo]), tf.constant(epsilon, tf.float32),
                          base.seed_tensor(seed) + 1 + done, tf.constant(done, tf.int32),
                          tf.constant(count, tf.int32))
            x[todo], margin[todo], loss[todo], spent = (t.numpy() for t in out)
            queries[todo] += spent
            done += count
        return tf.constant(x), margin <= 0, queries

    def compiled(self, key, model, build, signature):
        """Like `base.Attack.compiled`, for the two functions of this attack."""
        if key not in self._compiled:
            self._compiled[key] = (model, tf.function(build(base.logits_fn(model)), input_signature=list(signature)))
        return self._compiled[key][1]

    def _build_start(self, logits_of):
        norm = self.norm

        def start(images, labels, epsilon, seed):
            shape = tf.shape(images)
            if norm == "linf":
                stripes = tf.sign(tf.random.stateless_uniform([shape[0], 1, shape[2], shape[3]], seed, -1.0, 1.0))
                x = tf.clip_by_value(images + epsilon * stripes, 0.0, 1.0)
            else:
                delta = self._l2_start(shape, seed)
                x = tf.clip_by_value(images + epsilon * _unit(delta), 0.0, 1.0)
            margin = -base.margin(logits_of(x), labels)
            return x, margin, margin

        return start

    def _l2_start(self, shape, seed):
        height, width, channels = (int(d) for d in self._image_shape)
        size = max(height // 5, 1)
        tiles = []
        pattern = centred_pattern(size)
        offset = (height - size * 5) // 2
        for r in range(offset, height - size + 1, size):
            for c in range(offset, width - size + 1, size):
                tile = np.zeros((2, height, width), np.float32)
                tile[0, r:r + size, c:c + size] = pattern
                tile[1, r:r + size, c:c + size] = pattern.T
                tiles.append(tile)
        tiles = tf.constant(np.stack(tiles, axis=1))  # [2, T, H, W]: both orientations.
        count = tiles.shape[1]
        signs = tf.sign(tf.random.stateless_uniform([shape[0], count, channels], seed, -1.0, 1.0))
        flip = tf.random.stateless_uniform([shape[0], count], seed + 1) < 0.5
        chosen = tf.where(flip[:, :, None, None], tiles[1][None], tiles[0][None])
        return tf.einsum("bthw,btc->bhwc", chosen, signs)

    def _build_segment(self, logits_of):
        options, norm = self.options, self.norm
        height, width, channels = (int(d) for d in self._image_shape)
        features = height * width * channels
        smallest = 1 if norm == "linf" else 3
        patterns = np.zeros((min(height, width) + 1, min(height, width), min(height, width)), np.float32)
        for s in range(1, min(height, width) + 1):
            patterns[s, :s, :s] = centred_pattern(s) if s > 1 else 1.0
        patterns = tf.constant(patterns)
        rows, cols = tf.range(height), tf.range(width)

        def segment(images, labels, margin_min, loss_min, x_best, epsilon, seed, first, count):
            batch = tf.shape(images)[0]
            spent = tf.zeros([batch], tf.int64)
            for step in tf.range(count):
                it = first + step
                rng = seed + tf.cast(it, tf.int64) * 9973
                p = fraction(it, options.p_init, options.queries, options.rescale_schedule)
                s = tf.cast(tf.round(tf.sqrt(p * features / channels)), tf.int32)
                s = tf.minimum(tf.maximum(s, smallest), min(height, width))
                if norm == "l2":
                    s = tf.minimum(s + 1 - s % 2, min(height, width))
                top = tf.random.stateless_uniform([batch], rng, 0, height - s + 1, dtype=tf.int32)
                left = tf.random.stateless_uniform([batch], rng + 1, 0, width - s + 1, dtype=tf.int32)
                window = _window(rows, cols, top, left, s)
                if norm == "linf":
                    signs = tf.sign(tf.random.stateless_uniform([batch, 1, 1, channels], rng + 2, -1.0, 1.0))
                    x_new = tf.where(window, tf.clip_by_value(images + epsilon * signs, 0.0, 1.0), x_best)
                else:
                    x_new = _l2_update(images, x_best, window, top, left, s, patterns, epsilon, rng, rows, cols)
                margin = -base.margin(logits_of(x_new), labels)
                active = margin_min > 0
                improved = active & ((margin < loss_min) | (margin <= 0))
                loss_min = tf.where(active & (margin < loss_min), margin, loss_min)
                margin_min = tf.where(improved, margin, margin_min)
                x_best = tf.where(base._expand(improved, x_best), x_new, x_best)
                spent += tf.cast(active, tf.int64)
            return x_best, margin_min, loss_min, spent

        return segment


def _unit(delta: tf.Tensor) -> tf.Tensor:
    return delta / base._expand(tf.maximum(base.per_example_norm(delta, "l2"), 1e-12), delta)


def _window(rows, cols, top, left, size) -> tf.Tensor:
    """[B, H, W, 1]: True inside each example's square."""
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + size)
    in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + size)
    return (in_rows[:, :, None] & in_cols[:, None, :])[..., None]


def _l2_update(images, x_best, window, top, left, size, patterns, epsilon, rng, rows, cols):
    """The L2 step: the first window gets the pattern plus its old content, the second window is emptied."""
    batch, channels = tf.shape(images)[0], tf.shape(images)[3]
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    top2 = tf.random.stateless_uniform([batch], rng + 3, 0, height - size + 1, dtype=tf.int32)
    left2 = tf.random.stateless_uniform([batch], rng + 4, 0, width - size + 1, dtype=tf.int32)
    second = _window(rows, cols, top2, left2, size)
    first = tf.cast(window, tf.float32)
    delta = x_best - images
    norm_image = base.per_example_norm(delta, "l2")[:, None, None, None]
    norm_first = tf.sqrt(tf.reduce_sum(tf.square(delta * first), axis=[1, 2], keepdims=True))
    both = tf.cast(window | second, tf.float32)
    norm_both = tf.sqrt(tf.reduce_sum(tf.square(delta * both), axis=[1, 2], keepdims=True))
    pattern = patterns[size, :size, :size]
    flip = tf.random.stateless_uniform([batch], rng + 5) < 0.5
    pattern = tf.where(flip[:, None, None], tf.transpose(pattern)[None], pattern[None])
    place_r = tf.one_hot(top[:, None] + tf.range(size)[None], height)  # [B, s, H]
    place_c = tf.one_hot(left[:, None] + tf.range(size)[None], width)  # [B, s, W]
    placed = tf.einsum("bih,bij,bjw->bhw", place_r, pattern, place_c)[..., None]
    signs = tf.sign(tf.random.stateless_uniform([batch, 1, 1, channels], rng + 6, -1.0, 1.0))
    new = placed * signs + delta * first / (1e-12 + norm_first)
    new_norm = tf.sqrt(tf.reduce_sum(tf.square(new), axis=[1, 2], keepdims=True))
    budget = tf.maximum(epsilon ** 2 - norm_image ** 2, 0.0) / tf.cast(channels, tf.float32) + norm_both ** 2
    new = new / (1e-12 + new_norm) * tf.sqrt(budget)
    delta = delta * (1.0 - both) + new * first
    return tf.clip_by_value(images + epsilon * _unit(delta), 0.0, 1.0)


def square(options: SquareConfig) -> Square:
    """The Square attack in L-inf or L2."""
    return Square(options)
