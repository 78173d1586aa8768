"""Exports a trained VAE or CVAE as one SavedModel that other services load with TensorFlow alone.

Layout: ``<export.dir>/<export.name>/<version>/`` (numbered like TensorFlow
Serving), written to a temporary directory and renamed when complete, with
``assets/generative.json`` describing the model (task, latent size, image
shape, likelihood and, for a CVAE, the coverage of the evaluated radii).
Every image is float32 ``[batch, H, W, C]`` in [0, 1]; latent codes are
float32 ``[batch, latent_dim]``.

CVAE signatures (Wong & Kolter, 2020):

- ``prior``: ``image`` -> ``mean``, ``stddev`` of p(z | x);
- ``generator``: ``image``, ``z`` -> ``image``, g(x, z);
- ``recognition``: ``image``, ``perturbed`` -> ``mean``, ``stddev`` of q(z | x, x');
- ``perturb`` (also ``serving_default``): ``image``, ``code`` -> ``image``,
  g(x, mu_p + sigma_p * code) for normalised codes;
- ``sample``: ``image``, ``radius`` (scalar), ``seed`` (int64 [2]) -> ``image``,
  ``code``: one draw per image, uniform in the ball ``||code|| <= radius``.

VAE signatures (Kingma & Welling, 2014): ``encode`` (``image`` -> ``mean``,
``stddev``), ``decode`` (``z`` -> ``image``), ``generate`` (also
``serving_default``; ``image``, ``seed`` -> ``image``: encode, sample, add the
configured latent noise, decode) and ``sample`` (``count``, ``seed`` -> ``image``).

The functions behind the signatures are also attributes (``prior_fn``,
``generator_fn``, ...) so `tf.saved_model.load` callers can differentiate
through them (`robustkit.generative.perturbation.load_perturbation_set`).
"""

import json
import logging
import os
import shutil
from typing import Any, Dict, Optional

import tensorflow as tf

from robustkit import distribute, outputs
from robustkit.generative import distributions as dists
from robustkit.generative.perturbation import sample_ball

log = logging.getLogger(__name__)


def _image_spec(shape, name: str = "image") -> tf.TensorSpec:
    return tf.TensorSpec([None, *shape], tf.float32, name=name)


def _moments(params: tf.Tensor) -> Dict[str, tf.Tensor]:
    mean, log_var = dists.split_params(params)
    return {"mean": mean, "stddev": tf.exp(0.5 * log_var)}


class CVAEServing(tf.Module):
    """The CVAE's networks in inference mode, behind functions with fixed signatures."""

    def __init__(self, cvae):
        super().__init__(name="cvae")
        self.prior_net, self.recognition_net, self.generator_net = cvae.prior_net, cvae.recognition_net, \
            cvae.generator_net
        self.latent_dim = tf.Variable(cvae.latent_dim, trainable=False, dtype=tf.int32, name="latent_dim")
        kind, scale = cvae.options.likelihood, cvae.options.likelihood_scale
        image, k = _image_spec(cvae.image_shape), cvae.latent_dim

        def generate(x, z):
            return dists.mean_image(dists.likelihood(self.generator_net([x, z], training=False), kind, scale))

        def perturb(x, code):
            prior = _moments(self.prior_net(x, training=False))
            return generate(x, prior["mean"] + prior["stddev"] * code)

        @tf.function(input_signature=[image])
        def prior_fn(image):
            return _moments(self.prior_net(image, training=False))

        @tf.function(input_signature=[image, tf.TensorSpec([None, k], tf.float32, name="z")])
        def generator_fn(image, z):
            return {"image": generate(image, z)}

        @tf.function(input_signature=[image, _image_spec(cvae.image_shape, "perturbed")])
        def recognition_fn(image, perturbed):
            return _moments(self.recognition_net([image, perturbed], training=False))

        @tf.function(input_signature=[image, tf.TensorSpec([None, k], tf.float32, name="code")])
        def perturb_fn(image, code):
            return {"image": perturb(image, code)}

        @tf.function(input_signature=[image, tf.TensorSpec([], tf.float32, name="radius"),
                                      tf.TensorSpec([2], tf.int64, name="seed")])
        def sample_fn(image, radius, seed):
            code = sample_ball(tf.stack([tf.shape(image)[0], k]), radius, seed)
            return {"image": perturb(image, code), "code": code}

        self.prior_fn, self.generator_fn, self.recognition_fn = prior_fn, generator_fn, recognition_fn
        self.perturb_fn, self.sample_fn = perturb_fn, sample_fn

    def signatures(self) -> Dict[str, Any]:
        return {"serving_default": self.perturb_fn, "perturb": self.perturb_fn, "prior": self.prior_fn,
                "generator": self.generator_fn, "recognition": self.recognition_fn, "sample": self.sample_fn}


class VAEServing(tf.Module):
    """The VAE's encoder and decoder in inference mode, behind functions with fixed signatures."""

    def __init__(self, vae):
        super().__init__(name="vae")
        self.encoder, self.decoder = vae.encoder, vae.decoder
        self.latent_dim = tf.Variable(vae.latent_dim, trainable=False, dtype=tf.int32, name="latent_dim")
        kind, scale = vae.options.likelihood, vae.options.likelihood_scale
        noise, k, image = float(vae.options.generate_noise), vae.latent_dim, _image_spec(vae.image_shape)
        seed_spec = tf.TensorSpec([2], tf.int64, name="seed")

        def decode(z):
            return dists.mean_image(dists.likelihood(self.decoder(z, training=False), kind, scale))

        @tf.function(input_signature=[image])
        def encode_fn(image):
            return _moments(self.encoder(image, training=False))

        @tf.function(input_signature=[tf.TensorSpec([None, k], tf.float32, name="z")])
        def decode_fn(z):
            return {"image": decode(z)}

        @tf.function(input_signature=[image, seed_spec])
        def generate_fn(image, seed):
            moments = _moments(self.encoder(image, training=False))
            eps = tf.random.stateless_normal(tf.shape(moments["mean"]), seed=seed)
            jitter = tf.random.stateless_normal(tf.shape(moments["mean"]), seed=seed + 1)
            return {"image": decode(moments["mean"] + moments["stddev"] * eps + noise * jitter)}

        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="count"), seed_spec])
        def sample_fn(count, seed):
            return {"image": decode(tf.random.stateless_normal(tf.stack([count, k]), seed=seed))}

        self.encode_fn, self.decode_fn, self.generate_fn, self.sample_fn = encode_fn, decode_fn, generate_fn, \
            sample_fn

    def signatures(self) -> Dict[str, Any]:
        return {"serving_default": self.generate_fn, "generate": self.generate_fn, "encode": self.encode_fn,
                "decode": self.decode_fn, "sample": self.sample_fn}


def serving_module(model) -> tf.Module:
    """The export module of a `VAE` or `CVAE`."""
    return CVAEServing(model) if hasattr(model, "generator_net") else VAEServing(model)


def export_generative(model, export_root: str, description: Dict[str, Any],
                      strategy: Optional[tf.distribute.Strategy] = None) -> Optional[str]:
    """Saves ``model`` to ``<export_root>/<next version>/`` atomically.

    Args:
      model: a trained `robustkit.generative.vae.VAE` or `robustkit.generative.cvae.CVAE`.
      export_root: ``<export.dir>/<export.name>``.
      description: written to ``assets/generative.json``.
      strategy: under MultiWorkerMirroredStrategy every worker saves; the
        non-chief workers to throw-away directories.

    Returns:
      The version directory written; None on non-chief workers.
    """
    strategy = strategy or tf.distribute.get_strategy()
    module = serving_module(model)
    if not distribute.is_chief(strategy):
        scratch = distribute.write_dir(export_root, strategy)
        tf.saved_model.save(module, os.path.join(scratch, "model"), signatures=module.signatures())
        shutil.rmtree(scratch, ignore_errors=True)
        return None
    target = outputs.next_version_dir(export_root)
    with outputs.atomic_dir(target) as tmp:
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        with open(os.path.join(tmp, "assets", "generative.json"), "w", encoding="utf-8") as f:
            json.dump(description, f, indent=2, default=float)
    log.info("exported %s", target)
    return target
