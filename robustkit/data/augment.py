"""Training-time augmentation of whole batches with stateless random ops.

Every random draw is a function of the seed passed in, so a batch augmented
twice with the same seed comes out identical. Each op fires per example with its
probability: a ``[B]`` mask selects the examples, which are gathered, changed
together and scattered back, so an op's cost scales with its probability.
Per-example parameters (brightness deltas, crop offsets) are drawn for the whole
batch in one tensor, so a batch takes a handful of vectorised ops. Ops run in a
fixed order: flip, crop, colour jitter, Gaussian noise, Poisson noise,
salt-and-pepper, MNIST-C corruptions. The result is clipped to [0, 1].
Smoothing noise (``smoothing_sigma``) comes last, on every example, and is not
clipped: it is the noise of randomized smoothing (Cohen, Rosenfeld & Kolter,
2019), under which a certified classifier must be accurate.

The MNIST-C corruptions (Mu & Gilmer, 2019; `robustkit.data.corruptions`) are
NumPy code, run through ``tf.numpy_function`` on the examples drawn for them;
their random draws derive from the batch seed like every other op's.

Poisson (shot) noise follows the photon-counting model used for image
corruption benchmarks (Hendrycks & Dietterich, 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations"):
``x' = Poisson(x * peak) / peak``.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from robustkit.data import corruptions as mnist_c
from robustkit.data.options import AugmentConfig

# Indices folded into the batch seed, one per random draw.
_FLIP_MASK = 1
_CROP_MASK, _CROP_Y, _CROP_X = 2, 3, 4
_JITTER_MASK, _BRIGHTNESS, _CONTRAST, _SATURATION, _HUE = 5, 6, 7, 8, 9
_GAUSS_MASK, _GAUSS = 10, 11
_POISSON_MASK, _POISSON = 12, 13
_SP_MASK, _SP_PIXELS, _SP_VALUES = 14, 15, 16
_CORRUPT = 17
_SMOOTHING = 18


def _seed(seed: tf.Tensor, index: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, index)


def _mask(seed: tf.Tensor, index: int, batch: tf.Tensor, prob: float) -> tf.Tensor:
    """A ``[B]`` boolean mask, true with probability ``prob`` per example."""
    return tf.random.stateless_uniform([batch], _seed(seed, index)) < prob


def _on_subset(images: tf.Tensor, mask: tf.Tensor, fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> tf.Tensor:
    """Applies ``fn(selected_images, selected_indices)`` only where ``mask`` holds.

    Used for the expensive ops, so that their cost scales with the probability.
    """
    indices = tf.where(mask)
    changed = fn(tf.gather_nd(images, indices), indices[:, 0])
    return tf.tensor_scatter_nd_update(images, indices, changed)


def random_crop(images: tf.Tensor, seed: tf.Tensor, prob: float, padding: int, mode: str) -> tf.Tensor:
    """Pads by ``padding`` (reflect or zero) and crops back at a random offset."""
    if padding == 0 or prob == 0:
        return images
    smallest = min((d for d in images.shape[1:3] if d is not None), default=None)
    if mode == "reflect" and smallest is not None and padding >= smallest:
        raise ValueError(f"reflect padding {padding} must be smaller than the image ({smallest} pixels)")
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    pad_mode = "REFLECT" if mode == "reflect" else "CONSTANT"
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode=pad_mode)
    mask = _mask(seed, _CROP_MASK, batch, prob)
    centre = tf.fill([batch], padding)
    dy = tf.random.stateless_uniform([batch], _seed(seed, _CROP_Y), 0, 2 * padding + 1, tf.int32)
    dx = tf.random.stateless_uniform([batch], _seed(seed, _CROP_X), 0, 2 * padding + 1, tf.int32)
    dy, dx = tf.where(mask, dy, centre), tf.where(mask, dx, centre)
    rows = dy[:, None] + tf.range(height)[None, :]
    cols = dx[:, None] + tf.range(width)[None, :]
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, cols, axis=2, batch_dims=1)


def colour_jitter(images: tf.Tensor, seed: tf.Tensor, options: AugmentConfig) -> tf.Tensor:
    """Brightness, contrast, then (RGB only) saturation and hue, per example."""
    batch = tf.shape(images)[0]
    mask = _mask(seed, _JITTER_MASK, batch, options.jitter_prob)
    channels = images.shape[-1]

    def jitter(x: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
        def draw(index: int, low: float, high: float) -> tf.Tensor:
            values = tf.random.stateless_uniform([batch], _seed(seed, index), low, high)
            return tf.gather(values, idx)[:, None, None, None]

        if options.brightness > 0:
            x = x + draw(_BRIGHTNESS, -options.brightness, options.brightness)
        if options.contrast > 0:
            mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
            x = (x - mean) * draw(_CONTRAST, max(0.0, 1.0 - options.contrast), 1.0 + options.contrast) + mean
        if channels == 3 and (options.saturation > 0 or options.hue > 0):
            hsv = tf.image.rgb_to_hsv(tf.clip_by_value(x, 0.0, 1.0))
            hue, sat, value = tf.unstack(hsv, axis=-1)
            if options.hue > 0:
                hue = tf.math.floormod(hue + draw(_HUE, -options.hue, options.hue)[..., 0], 1.0)
            if options.saturation > 0:
                factor = draw(_SATURATION, max(0.0, 1.0 - options.saturation), 1.0 + options.saturation)
                sat = tf.clip_by_value(sat * factor[..., 0], 0.0, 1.0)
            x = tf.image.hsv_to_rgb(tf.stack([hue, sat, value], axis=-1))
        return x

    return _on_subset(images, mask, jitter)


def gaussian_noise(images: tf.Tensor, seed: tf.Tensor, prob: float, std: float) -> tf.Tensor:
    """Adds zero-mean Gaussian noise of standard deviation ``std``."""
    mask = _mask(seed, _GAUSS_MASK, tf.shape(images)[0], prob)

    def noisy(x: tf.Tensor, _: tf.Tensor) -> tf.Tensor:
        return x + tf.random.stateless_normal(tf.shape(x), _seed(seed, _GAUSS), stddev=std)

    return _on_subset(images, mask, noisy)


def poisson_noise(images: tf.Tensor, seed: tf.Tensor, prob: float, peak: float) -> tf.Tensor:
    """Shot noise: ``Poisson(x * peak) / peak``."""
    mask = _mask(seed, _POISSON_MASK, tf.shape(images)[0], prob)

    def noisy(x: tf.Tensor, _: tf.Tensor) -> tf.Tensor:
        lam = tf.maximum(x, 0.0) * peak
        return tf.random.stateless_poisson(tf.shape(x), _seed(seed, _POISSON), lam, dtype=tf.float32) / peak

    return _on_subset(images, mask, noisy)


def salt_and_pepper(images: tf.Tensor, seed: tf.Tensor, prob: float, amount: float) -> tf.Tensor:
    """Sets each pixel, with probability ``amount``, to 0 or 1 in all channels."""
    mask = _mask(seed, _SP_MASK, tf.shape(images)[0], prob)

    def noisy(x: tf.Tensor, _: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(x)
        pixel_shape = tf.concat([shape[:3], [1]], axis=0)
        hit = tf.random.stateless_uniform(pixel_shape, _seed(seed, _SP_PIXELS)) < amount
        salt = tf.cast(tf.random.stateless_uniform(pixel_shape, _seed(seed, _SP_VALUES)) < 0.5, x.dtype)
        return tf.where(hit, salt, x)

    return _on_subset(images, mask, noisy)


def real_corruptions(images: tf.Tensor, seed: tf.Tensor, options: AugmentConfig) -> tf.Tensor:
    """Replaces each example, with probability ``corruption_prob``, by a random one of ``corruptions``."""
    names, severities = list(options.corruptions), list(options.corruption_severities)

    def apply(x: np.ndarray, key: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([int(v) % 2 ** 63 for v in key] + [_CORRUPT])
        count = len(x)
        hit = rng.random(count) < options.corruption_prob
        kind = rng.integers(len(names), size=count)
        level = rng.choice(severities, size=count) if severities else np.zeros(count, int)
        batch_seed = int(rng.integers(2 ** 62))
        out = x.copy()
        for k, name in enumerate(names):
            for severity in sorted(set(level[hit & (kind == k)].tolist())):
                chosen = np.flatnonzero(hit & (kind == k) & (level == severity))
                severity = int(severity) if severity and name in mnist_c.DEFAULT_SEVERITY else None
                out[chosen] = mnist_c.corrupt(x[chosen], name, seed=batch_seed, severity=severity, indices=chosen)
        return out

    out = tf.numpy_function(apply, [images, tf.cast(seed, tf.int64)], tf.float32, stateful=False)
    out.set_shape(images.shape)
    return out


def smoothing_noise(images: tf.Tensor, seed: tf.Tensor, sigma: float) -> tf.Tensor:
    """Adds N(0, sigma^2) noise to every pixel of every example, unclipped (randomized smoothing)."""
    return images + tf.random.stateless_normal(tf.shape(images), _seed(seed, _SMOOTHING), stddev=sigma)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, options: AugmentConfig) -> tf.Tensor:
    """Augments a batch of images in [0, 1].

    Args:
      images: float32 ``[B, H, W, C]`` in [0, 1]; C must be known statically.
      seed: int32 or int64 ``[2]``; all randomness derives from it.
      options: which ops fire, how often and how strongly.

    Returns:
      Augmented float32 ``[B, H, W, C]`` images, clipped to [0, 1] before the
      smoothing noise is added.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    seed = tf.convert_to_tensor(seed)
    batch = tf.shape(images)[0]
    if options.flip_prob > 0:
        mask = _mask(seed, _FLIP_MASK, batch, options.flip_prob)
        images = _on_subset(images, mask, lambda x, _: tf.reverse(x, axis=[2]))
    if options.crop_prob > 0:
        images = random_crop(images, seed, options.crop_prob, options.crop_padding, options.crop_mode)
    jitters = options.brightness > 0 or options.contrast > 0 or options.saturation > 0 or options.hue > 0
    if options.jitter_prob > 0 and jitters:
        images = colour_jitter(images, seed, options)
    if options.gaussian_prob > 0 and options.gaussian_std > 0:
        images = gaussian_noise(images, seed, options.gaussian_prob, options.gaussian_std)
    if options.poisson_prob > 0:
        images = poisson_noise(images, seed, options.poisson_prob, options.poisson_peak)
    if options.salt_pepper_prob > 0 and options.salt_pepper_amount > 0:
        images = salt_and_pepper(images, seed, options.salt_pepper_prob, options.salt_pepper_amount)
    if options.corruption_prob > 0:
        images = real_corruptions(images, seed, options)
    images = tf.clip_by_value(images, 0.0, 1.0)
    if options.smoothing_sigma > 0:
        images = smoothing_noise(images, seed, options.smoothing_sigma)
    return images
