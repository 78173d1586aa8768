"""Linear classifiers whose smoothed probabilities are known exactly, and data that needs clipping to matter."""

import numpy as np
import tensorflow as tf
from scipy import stats

SHAPE = (4, 4, 1)


def weights() -> np.ndarray:
    """+1 on the pixels that are 0 in `images`, -1 on those that are 1: clipped noise would shift the score up."""
    w = np.ones(int(np.prod(SHAPE)), np.float32)
    w[1::2] = -1.0
    return w


def images(margins, w: np.ndarray) -> tuple:
    """Images of pixels 0 and 1 (alternating) and, for each margin m, the bias that makes ``w . x + b = m``."""
    x = np.zeros(int(np.prod(SHAPE)), np.float32)
    x[1::2] = 1.0
    base = float(w @ x)
    biases = np.array([m - base for m in margins], np.float32)
    return np.repeat(x.reshape(1, *SHAPE), len(margins), axis=0), biases


def linear(w: np.ndarray, b: float):
    """Class 1 where ``w . x + b > 0``, else class 0 (logits ``[0, w . x + b]``)."""
    w_t, b_t = tf.constant(w[:, None]), tf.constant(b, tf.float32)

    def logits(x):
        score = tf.reshape(x, [-1, int(np.prod(SHAPE))]) @ w_t + b_t
        return tf.concat([tf.zeros_like(score), score], axis=1)

    return logits


def exact_probability(margin: float, w: np.ndarray, sigma: float) -> float:
    """P(class 1) under unclipped N(0, sigma^2 I) noise: Phi(margin / (sigma ||w||))."""
    return float(stats.norm.cdf(margin / (sigma * np.linalg.norm(w))))
