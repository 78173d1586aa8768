"""The VAE and CVAE: shapes, the loss terms, generation, and training steps (also mirrored)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import distribute
from robustkit.generative.config import MODELS, ConvCVAEConfig, ConvVAEConfig, FcCVAEConfig
from robustkit.sections import DistributeConfig

RNG = np.random.default_rng(0)
X = RNG.random((6, 28, 28, 1)).astype(np.float32)
Y = RNG.random((6, 28, 28, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def vae():
    model = MODELS.build(ConvVAEConfig(latent_dim=3, filters=4))
    model(X)
    return model


def _cvae(options, **kwargs):
    model = MODELS.build(options, **kwargs)
    model({"image": X, "perturbed": Y})
    return model


def test_vae_encode_decode_sample_generate(vae):
    posterior = vae.encode(X)
    assert posterior.mean().shape == (6, 3) and (posterior.stddev().numpy() > 0).all()
    assert vae.decode_mean(posterior.mean()).shape == (6, 28, 28, 1)
    samples = vae.sample(5, seed=1).numpy()
    assert samples.shape == (5, 28, 28, 1) and samples.min() >= 0 and samples.max() <= 1
    one, same, other = (vae.generate(X, seed=s).numpy() for s in ((1, 2), (1, 2), (3, 4)))
    np.testing.assert_array_equal(one, same)
    assert not np.allclose(one, other)
    terms = vae.terms(X)
    assert terms["reconstruction"].shape == (6,) and (terms["kl"].numpy() >= 0).all()


def test_vae_generate_noise_is_the_latent_jitter(vae):
    posterior = vae.encode(X)
    mean, std = posterior.mean(), posterior.stddev()
    seed = tf.constant([5, 6], tf.int64)
    eps = tf.random.stateless_normal(tf.shape(mean), seed=seed)
    jitter = tf.random.stateless_normal(tf.shape(mean), seed=seed + 1)
    expected = vae.decode_mean(mean + std * eps + 0.3 * jitter).numpy()
    np.testing.assert_allclose(vae.generate(X, seed=(5, 6), noise=0.3).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("options", [FcCVAEConfig(latent_dim=2, hidden=[16]), ConvCVAEConfig(latent_dim=1, filters=4,
                                                                                             dense=8)],
                         ids=["fc_cvae", "conv_cvae"])
def test_cvae_networks_and_terms(options):
    model = _cvae(options)
    k = options.latent_dim
    assert model.prior(X).mean().shape == (6, k) and model.posterior(X, Y).stddev().shape == (6, k)
    z = tf.zeros([6, k])
    out = model.generate(X, z).numpy()
    assert out.shape == (6, 28, 28, 1) and out.min() >= 0 and out.max() <= 1
    pair = model.terms({"image": X, "perturbed": Y})
    assert float(tf.reduce_max(tf.abs(pair["regulariser"]))) == 0.0
    bundle = model.terms({"image": X, "perturbed": Y, "perturbed2": Y})
    np.testing.assert_allclose(bundle["kl"].numpy(), pair["kl"].numpy(), rtol=1e-5)
    code = (model.encode(X, Y) - model.prior(X).mean()).numpy()
    np.testing.assert_allclose(bundle["regulariser"].numpy(), np.abs(code).sum(-1), rtol=1e-5, atol=1e-6)


def test_conv_models_are_sized_for_28x28():
    with pytest.raises(ValueError, match="28x28"):
        MODELS.build(ConvVAEConfig(), image_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="28x28"):
        MODELS.build(ConvCVAEConfig(), image_shape=(32, 32, 3))


def _bundles(n=32):
    rng = np.random.default_rng(1)
    x = rng.random((n, 28, 28, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices({"image": x, "perturbed": x[:, ::-1], "perturbed2": x[:, :, ::-1],
                                               "label": np.zeros(n, np.int64)})


def test_cvae_training_lowers_the_loss_and_logs_every_term():
    model = _cvae(FcCVAEConfig(latent_dim=1, hidden=[32]), beta=1.0, beta_warmup_steps=4, regulariser_weight=2.0)
    model.compile(keras.optimizers.Adam(3e-3))
    history = model.fit(_bundles().batch(8), epochs=2, verbose=0).history
    assert set(history) == {"loss", "reconstruction", "kl", "regulariser"}
    assert history["loss"][-1] < history["loss"][0]
    metrics = model.evaluate(_bundles().batch(8), return_dict=True, verbose=0)
    expected = metrics["reconstruction"] + metrics["kl"] + 2.0 * metrics["regulariser"]
    assert metrics["loss"] == pytest.approx(expected, rel=1e-4)


def test_mirrored_training_step():
    """The custom train step under MirroredStrategy on the two virtual CPUs of the test session."""
    strategy = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
    with strategy.scope():
        model = _cvae(FcCVAEConfig(latent_dim=2, hidden=[16]), regulariser_weight=1.0)
        model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(_bundles().batch(8), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
