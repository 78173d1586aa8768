"""The conditional VAE of learned perturbation sets (Sohn et al., 2015; Wong & Kolter, 2020).

Three networks: a prior p(z | x), a recognition network q(z | x, x') and a
generator g(x, z) giving the likelihood of x'. The loss of a pair (x, x') is
``-E_q[log p(x' | x, z)] + beta * KL(q(z | x, x') || p(z | x))`` in nats, with
beta rising linearly over the warm-up steps. The perturbation set of x is
``{g(x, mu_p(x) + sigma_p(x) * u) : ||u|| <= radius}``
(`robustkit.generative.perturbation`).

Rotation bundles (x, x1, x2), x1 and x2 being x rotated by theta and 2 theta,
train both pairs (x, x1) and (x, x2): the loss is the mean of the two pair
losses plus the linear-cost regulariser of the 1-D rotation design,
``weight * ||2 (mu1 - mu_p) - (mu2 - mu_p)||_1``, which asks the latent code
of 2 theta to be twice that of theta. The logged ``regulariser`` is the
unweighted term, so runs with and without it compare.

Two variants: ``fc_cvae`` (fully connected) and ``conv_cvae`` (the
convolution, BatchNorm and ReLU blocks of the VAE; the generator decodes z
beside x's features and sees x again at full resolution).
"""

from typing import Dict, Sequence

import tensorflow as tf
import tf_keras as keras

from robustkit.generative import distributions as dists
from robustkit.generative.options import ConvCVAEConfig, FcCVAEConfig, GenerativeModelConfig
from robustkit.generative.vae import BN_MOMENTUM, check_mnist_size


def _mlp(x, widths: Sequence[int], name: str):
    for i, width in enumerate(widths, start=1):
        x = keras.layers.Dense(width, activation="relu", name=f"{name}_dense{i}")(x)
    return x


def _conv_block(x, filters: int, name: str, transpose: bool = False):
    layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    x = layer(filters, 4, 2, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _fc_networks(options: FcCVAEConfig, shape: Sequence[int]):
    k, size = options.latent_dim, int(shape[0] * shape[1] * shape[2])
    image = keras.Input(tuple(shape), name="image")
    perturbed = keras.Input(tuple(shape), name="perturbed")
    z = keras.Input((k,), name="z")
    flat = keras.layers.Flatten(name="flat_x")
    prior = keras.Model(image, keras.layers.Dense(2 * k, name="prior_params")(
        _mlp(flat(image), options.hidden, "prior")), name="prior")
    both = keras.layers.Concatenate(name="x_and_x_prime")([flat(image), keras.layers.Flatten()(perturbed)])
    recognition = keras.Model([image, perturbed], keras.layers.Dense(2 * k, name="recognition_params")(
        _mlp(both, options.hidden, "recognition")), name="recognition")
    hidden = _mlp(keras.layers.Concatenate(name="x_and_z")([flat(image), z]), options.hidden[::-1], "generator")
    logits = keras.layers.Reshape(tuple(shape), name="logits")(keras.layers.Dense(size, name="generator_out")(hidden))
    return prior, recognition, keras.Model([image, z], logits, name="generator")


def _conv_encoder(inputs, image_input, options: ConvCVAEConfig, name: str):
    x = _conv_block(image_input, options.filters, f"{name}_conv1")
    x = _conv_block(x, options.filters, f"{name}_conv2")
    x = keras.layers.Dense(options.dense, activation="relu", name=f"{name}_dense")(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(2 * options.latent_dim, name=f"{name}_params")(x), name=name)


def _conv_networks(options: ConvCVAEConfig, shape: Sequence[int]):
    check_mnist_size(shape, "conv_cvae")
    f, k = options.filters, options.latent_dim
    image = keras.Input(tuple(shape), name="image")
    perturbed = keras.Input(tuple(shape), name="perturbed")
    z = keras.Input((k,), name="z")
    prior = _conv_encoder(image, image, options, "prior")
    both = keras.layers.Concatenate(name="x_and_x_prime")([image, perturbed])
    recognition = _conv_encoder([image, perturbed], both, options, "recognition")
    features = _conv_block(_conv_block(image, f, "generator_conv1"), f, "generator_conv2")
    code = keras.layers.Dense(7 * 7 * f, activation="relu", name="generator_z")(z)
    x = keras.layers.Concatenate(name="features_and_z")([features, keras.layers.Reshape((7, 7, f))(code)])
    x = _conv_block(_conv_block(x, f, "generator_up1", transpose=True), f, "generator_up2", transpose=True)
    x = keras.layers.Concatenate(name="with_x")([x, image])
    logits = keras.layers.Conv2D(shape[-1], 3, padding="same", name="logits")(x)
    return prior, recognition, keras.Model([image, z], logits, name="generator")


class CVAE(keras.Model):
    """A CVAE over pairs (x, x') or rotation bundles; see the module docstring.

    Args:
      options: the ``model`` config block (`FcCVAEConfig` or `ConvCVAEConfig`).
      image_shape: ``(H, W, C)``.
      beta: the weight of the KL term once warmed up.
      beta_warmup_steps: optimizer steps over which beta rises linearly from 0.
      regulariser_weight: lambda of the linear-cost term on bundles (0: off).
    """

    def __init__(self, options: GenerativeModelConfig, image_shape: Sequence[int] = (28, 28, 1), beta: float = 1.0,
                 beta_warmup_steps: int = 0, regulariser_weight: float = 0.0):
        super().__init__(name="cvae")
        self.options = options
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = options.latent_dim
        self.beta = float(beta)
        self.beta_warmup_steps = int(beta_warmup_steps)
        self.regulariser_weight = float(regulariser_weight)
        build = _conv_networks if isinstance(options, ConvCVAEConfig) else _fc_networks
        self.prior_net, self.recognition_net, self.generator_net = build(options, self.image_shape)
        names = ("loss", "reconstruction", "kl", "regulariser")
        self.trackers = {name: keras.metrics.Mean(name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def prior(self, images: tf.Tensor, training: bool = False):
        """p(z | x), a diagonal Normal."""
        return dists.diag_normal(*dists.split_params(self.prior_net(images, training=training)))

    def posterior(self, images: tf.Tensor, perturbed: tf.Tensor, training: bool = False):
        """q(z | x, x'), a diagonal Normal."""
        return dists.diag_normal(*dists.split_params(self.recognition_net([images, perturbed], training=training)))

    def decode(self, images: tf.Tensor, z: tf.Tensor, training: bool = False):
        """p(x' | x, z) over whole images."""
        logits = self.generator_net([images, z], training=training)
        return dists.likelihood(logits, self.options.likelihood, self.options.likelihood_scale)

    def generate(self, images: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """g(x, z): the perturbed image (the likelihood's mean)."""
        return dists.mean_image(self.decode(images, z))

    def encode(self, images: tf.Tensor, perturbed: tf.Tensor) -> tf.Tensor:
        """P(x, x'): the latent code of the perturbation from x to x' (the recognition mean)."""
        return self.posterior(images, perturbed).mean()

    def pair_terms(self, images, perturbed, prior, training: bool = False) -> Dict[str, tf.Tensor]:
        """Per-pair ``reconstruction`` (-log p(x' | x, z), z ~ q), ``kl`` and the posterior mean ``mu``."""
        posterior = self.posterior(images, perturbed, training=training)
        reconstruction = -self.decode(images, posterior.sample(), training=training).log_prob(perturbed)
        return {"reconstruction": reconstruction, "kl": dists.kl(posterior, prior), "mu": posterior.mean()}

    def terms(self, batch: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        """Per-example terms of a batch of pairs or bundles, averaged over a bundle's two pairs."""
        images = batch["image"]
        prior = self.prior(images, training=training)
        first = self.pair_terms(images, batch["perturbed"], prior, training)
        if "perturbed2" not in batch:
            return {"reconstruction": first["reconstruction"], "kl": first["kl"],
                    "regulariser": tf.zeros_like(first["kl"])}
        second = self.pair_terms(images, batch["perturbed2"], prior, training)
        return {
            "reconstruction": 0.5 * (first["reconstruction"] + second["reconstruction"]),
            "kl": 0.5 * (first["kl"] + second["kl"]),
            "regulariser": linear_cost(first["mu"], second["mu"], prior.mean()),
        }

    def call(self, batch, training=False):
        """g(x, P(x, x')): x' reconstructed from its posterior mean."""
        return self.generate(batch["image"], self.encode(batch["image"], batch["perturbed"]))

    def _update(self, terms: Dict[str, tf.Tensor], beta: tf.Tensor) -> tf.Tensor:
        per_example = terms["reconstruction"] + beta * terms["kl"] + self.regulariser_weight * terms["regulariser"]
        self.trackers["loss"].update_state(per_example)
        for name in ("reconstruction", "kl", "regulariser"):
            self.trackers[name].update_state(terms[name])
        return tf.reduce_mean(per_example)

    def train_step(self, data):
        beta = self.beta * dists.warmup_factor(self.optimizer.iterations, self.beta_warmup_steps)
        with tf.GradientTape() as tape:
            loss = self._update(self.terms(data, training=True), beta)
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, self.trainable_variables), self.trainable_variables))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        self._update(self.terms(data), tf.constant(self.beta))
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def linear_cost(mu1: tf.Tensor, mu2: tf.Tensor, mu_prior: tf.Tensor) -> tf.Tensor:
    """``||2 (mu1 - mu_prior) - (mu2 - mu_prior)||_1`` per example: zero when the code of 2 theta is twice theta's."""
    return tf.reduce_sum(tf.abs(2.0 * (mu1 - mu_prior) - (mu2 - mu_prior)), axis=-1)
