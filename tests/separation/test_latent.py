"""The latent codec reads a VAE export: its codes are the VAE's own posterior means."""

import numpy as np

from robustkit.separation.latent import VAECodec
from tests.helpers import learnable_images
from tests.separation import tiny


def test_codec_codes_are_the_vae_posterior_means(vae_path):
    model = tiny.MODELS[vae_path]  # The session's tiny VAE, fitted briefly, and its export.
    images, _ = learnable_images(7, 4, seed=2)
    images = images[..., None]
    floats = images.astype(np.float32) / 255.0
    path = vae_path
    posterior = model.encode(floats)
    mean, std = posterior.mean().numpy(), posterior.stddev().numpy()
    assert np.abs(mean - mean.mean(axis=0)).max() > 1e-3, "the images get different codes"
    codec = VAECodec(path, batch_size=3)  # Three batches, the last one short.
    for given in (images, floats):  # uint8 pixels are read as pixel / 255.
        codes, stds = codec.encode(given)
        np.testing.assert_allclose(codes, mean, atol=1e-5)
        np.testing.assert_allclose(stds, std, atol=1e-5)
    np.testing.assert_allclose(codec.decode(codes), model.decode_mean(codes).numpy(), atol=1e-5)
