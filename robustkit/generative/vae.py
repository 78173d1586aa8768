"""The convolutional VAE of the feature-level test-generation design (Kingma & Welling, 2014).

Encoder: three strided or valid 4-4-5 convolutions of ``filters`` channels with
BatchNorm and ReLU, then a 3x3 convolution to ``2 * latent_dim`` channels with
BatchNorm: the mean and log-variance of a diagonal-Normal posterior q(z | x).
Decoder: the mirror image with transposed convolutions, ending in per-pixel
logits of the likelihood p(x | z). The prior is N(0, I); the loss is
``-E_q[log p(x | z)] + beta * KL(q(z | x) || p(z))`` per image, in nats, with
beta rising linearly over the warm-up steps. Sized for 28x28 images (28 -> 14
-> 7 -> 3 -> 1 and back), any number of channels.

`generate` follows the design: encode x, sample z ~ q(z | x), add N(0,
``generate_noise``^2) latent noise (0.01 by default) and decode.
"""

from typing import Dict, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from robustkit.generative import distributions as dists
from robustkit.generative.options import ConvVAEConfig

BN_MOMENTUM = 0.9


def _bn_relu(x, name: str, relu: bool = True):
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def check_mnist_size(image_shape: Sequence[int], model: str) -> None:
    if tuple(image_shape[:2]) != (28, 28):
        raise ValueError(f"{model} is sized for 28x28 images; got {tuple(image_shape)}")


def build_encoder(image_shape: Sequence[int], latent_dim: int, filters: int) -> keras.Model:
    """image -> ``[B, 2 * latent_dim]`` (posterior mean and log-variance)."""
    check_mnist_size(image_shape, "conv_vae")
    image = keras.Input(tuple(image_shape), name="image")
    x = keras.layers.Conv2D(filters, 4, 2, padding="same", use_bias=False, name="enc1")(image)
    x = _bn_relu(x, "enc1")
    x = keras.layers.Conv2D(filters, 4, 2, padding="same", use_bias=False, name="enc2")(x)
    x = _bn_relu(x, "enc2")
    x = keras.layers.Conv2D(filters, 5, 1, padding="valid", use_bias=False, name="enc3")(x)
    x = _bn_relu(x, "enc3")
    x = keras.layers.Conv2D(2 * latent_dim, 3, 1, padding="valid", name="enc4")(x)
    x = _bn_relu(x, "enc4", relu=False)
    return keras.Model(image, keras.layers.Flatten(name="params")(x), name="encoder")


def build_decoder(image_shape: Sequence[int], latent_dim: int, filters: int) -> keras.Model:
    """``[B, latent_dim]`` -> per-pixel logits ``[B, H, W, C]``."""
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Reshape((1, 1, latent_dim), name="z_map")(z)
    x = keras.layers.Conv2DTranspose(filters, 3, 1, padding="valid", use_bias=False, name="dec1")(x)
    x = _bn_relu(x, "dec1")
    x = keras.layers.Conv2DTranspose(filters, 5, 1, padding="valid", use_bias=False, name="dec2")(x)
    x = _bn_relu(x, "dec2")
    x = keras.layers.Conv2DTranspose(filters, 4, 2, padding="same", use_bias=False, name="dec3")(x)
    x = _bn_relu(x, "dec3")
    logits = keras.layers.Conv2DTranspose(image_shape[-1], 4, 2, padding="same", name="logits")(x)
    return keras.Model(z, logits, name="decoder")


class VAE(keras.Model):
    """A VAE with a diagonal-Normal posterior, a N(0, I) prior and a likelihood chosen by config.

    Args:
      options: the ``model`` config block.
      image_shape: ``(28, 28, C)``.
      beta: the weight of the KL term once warmed up.
      beta_warmup_steps: optimizer steps over which beta rises linearly from 0.
    """

    def __init__(self, options: ConvVAEConfig, image_shape: Sequence[int] = (28, 28, 1), beta: float = 1.0,
                 beta_warmup_steps: int = 0):
        super().__init__(name="vae")
        self.options = options
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = options.latent_dim
        self.beta = float(beta)
        self.beta_warmup_steps = int(beta_warmup_steps)
        self.encoder = build_encoder(self.image_shape, options.latent_dim, options.filters)
        self.decoder = build_decoder(self.image_shape, options.latent_dim, options.filters)
        self.trackers = {name: keras.metrics.Mean(name) for name in ("loss", "reconstruction", "kl", "neg_elbo")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def encode(self, images: tf.Tensor, training: bool = False):
        """q(z | x), a diagonal Normal."""
        return dists.diag_normal(*dists.split_params(self.encoder(images, training=training)))

    def prior(self, batch: tf.Tensor):
        return dists.standard_normal(batch, self.latent_dim)

    def decode(self, z: tf.Tensor, training: bool = False):
        """p(x | z) over whole images."""
        logits = self.decoder(z, training=training)
        return dists.likelihood(logits, self.options.likelihood, self.options.likelihood_scale)

    def decode_mean(self, z: tf.Tensor) -> tf.Tensor:
        """The image a latent code decodes to (the likelihood's mean)."""
        return dists.mean_image(self.decode(z))

    def sample(self, n: int, seed: Optional[int] = None) -> tf.Tensor:
        """``n`` images decoded from z ~ N(0, I)."""
        z = tf.random.stateless_normal([n, self.latent_dim], seed=[seed or 0, 1])
        return self.decode_mean(z)

    def generate(self, images: tf.Tensor, seed: Optional[Sequence[int]] = None,
                 noise: Optional[float] = None) -> tf.Tensor:
        """New images near ``images``: z ~ q(z | x) plus N(0, noise^2) latent noise, decoded."""
        noise = self.options.generate_noise if noise is None else noise
        seed = tf.constant([0, 0] if seed is None else seed, tf.int64)
        posterior = self.encode(images)
        mean, std = posterior.mean(), posterior.stddev()
        eps = tf.random.stateless_normal(tf.shape(mean), seed=seed)
        jitter = tf.random.stateless_normal(tf.shape(mean), seed=seed + 1)
        return self.decode_mean(mean + std * eps + noise * jitter)

    def terms(self, images: tf.Tensor, training: bool = False) -> Dict[str, tf.Tensor]:
        """Per-image ``reconstruction`` (-log p(x | z), z ~ q) and ``kl`` (KL(q || p)), in nats."""
        posterior = self.encode(images, training=training)
        z = posterior.sample()
        reconstruction = -self.decode(z, training=training).log_prob(images)
        return {"reconstruction": reconstruction, "kl": dists.kl(posterior, self.prior(tf.shape(images)[0]))}

    def call(self, images, training=False):
        """The reconstruction of ``images`` from their posterior means."""
        return dists.mean_image(self.decode(self.encode(images, training=training).mean(), training=training))

    def _update(self, terms: Dict[str, tf.Tensor], beta: tf.Tensor) -> tf.Tensor:
        per_example = terms["reconstruction"] + beta * terms["kl"]
        self.trackers["loss"].update_state(per_example)
        self.trackers["reconstruction"].update_state(terms["reconstruction"])
        self.trackers["kl"].update_state(terms["kl"])
        self.trackers["neg_elbo"].update_state(terms["reconstruction"] + terms["kl"])
        return tf.reduce_mean(per_example)

    def train_step(self, data):
        beta = self.beta * dists.warmup_factor(self.optimizer.iterations, self.beta_warmup_steps)
        with tf.GradientTape() as tape:
            loss = self._update(self.terms(data["image"], training=True), beta)
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, self.trainable_variables), self.trainable_variables))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        self._update(self.terms(data["image"]), tf.constant(self.beta))
        return {name: tracker.result() for name, tracker in self.trackers.items()}
