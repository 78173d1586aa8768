"""The distributions the VAE and CVAE share, written with `tfp.distributions`, and warm-up schedules.

Latent distributions are diagonal Normals parameterised by mean and log-variance
(Kingma & Welling, "Auto-Encoding Variational Bayes", 2014); their KL terms are
analytic (TFP's registered Normal-Normal KL). The likelihood p(x | z) of an image
is one of three, chosen by config:

- ``bernoulli``: per-pixel Bernoulli on the decoder's logits; with targets in
  [0, 1] the log-probability is minus the binary cross-entropy, in nats.
- ``continuous_bernoulli``: the normalised version for [0, 1] data
  (Loaiza-Ganem & Cunningham, "The continuous Bernoulli", 2019).
- ``gaussian``: a Normal of fixed scale around ``sigmoid(logits)``.
"""

from typing import Tuple

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

tfd = tfp.distributions

LOG_VAR_RANGE = (-12.0, 8.0)


def split_params(params: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """``[B, 2k]`` network outputs -> (mean, log-variance), each ``[B, k]``; the log-variance is clipped."""
    mean, log_var = tf.split(tf.cast(params, tf.float32), 2, axis=-1)
    return mean, tf.clip_by_value(log_var, *LOG_VAR_RANGE)


def diag_normal(mean: tf.Tensor, log_var: tf.Tensor) -> tfd.Distribution:
    """N(mean, diag(exp(log_var))) over the last axis."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))


def standard_normal(batch: tf.Tensor, dim: int) -> tfd.Distribution:
    """N(0, I) of dimension ``dim``, repeated over ``batch`` examples."""
    zeros = tf.zeros(tf.stack([batch, dim]))
    return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))


def kl(q: tfd.Distribution, p: tfd.Distribution) -> tf.Tensor:
    """KL(q || p) per example, analytic, in nats."""
    return tfd.kl_divergence(q, p)


def likelihood(logits: tf.Tensor, kind: str, scale: float = 0.1) -> tfd.Distribution:
    """p(x | ...) over whole images ``[B, H, W, C]`` from the decoder's logits."""
    logits = tf.cast(logits, tf.float32)
    if kind == "bernoulli":
        pixel = tfd.Bernoulli(logits=logits, dtype=tf.float32)
    elif kind == "continuous_bernoulli":
        pixel = tfd.ContinuousBernoulli(logits=logits)
    elif kind == "gaussian":
        pixel = tfd.Normal(loc=tf.sigmoid(logits), scale=scale)
    else:
        raise ValueError(f"unknown likelihood {kind!r}; expected bernoulli, continuous_bernoulli or gaussian")
    return tfd.Independent(pixel, reinterpreted_batch_ndims=3)


def mean_image(distribution: tfd.Distribution) -> tf.Tensor:
    """The likelihood's mean, the image a decoder produces, clipped to [0, 1]."""
    return tf.clip_by_value(distribution.mean(), 0.0, 1.0)


def warmup_factor(step: tf.Tensor, warmup_steps: int) -> tf.Tensor:
    """Rises linearly from 1 / warmup_steps at step 0 to 1 at ``warmup_steps``; 1 without warm-up."""
    if warmup_steps <= 0:
        return tf.constant(1.0)
    return tf.minimum(1.0, (tf.cast(step, tf.float32) + 1.0) / float(warmup_steps))


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that rises linearly over ``warmup_steps`` steps, then stays at ``rate``."""

    def __init__(self, rate: float, warmup_steps: int):
        super().__init__()
        self.rate = float(rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        return self.rate * warmup_factor(step, self.warmup_steps)

    def get_config(self):
        return {"rate": self.rate, "warmup_steps": self.warmup_steps}
