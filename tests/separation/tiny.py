"""A tiny VAE export and tiny IDX data that the separation and test-generation tests share."""

import functools
import os

import numpy as np

from tests.helpers import learnable_images, write_learnable_idx

MODELS = {}  # export path -> the VAE object it was exported from (for tests that compare the two)


@functools.lru_cache(maxsize=None)
def vae_export(root: str) -> str:
    """Exports a 2-dimensional conv VAE fitted briefly on learnable images under ``root``, once per process."""
    import tf_keras as keras

    from robustkit.generative.config import ConvVAEConfig
    from robustkit.generative.export import export_generative
    from robustkit.generative.vae import VAE

    keras.utils.set_random_seed(0)
    model = VAE(ConvVAEConfig(latent_dim=2, filters=4), image_shape=(28, 28, 1))
    x, _ = learnable_images(512, 4, seed=3)
    model(np.zeros((1, 28, 28, 1), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    model.fit({"image": x[..., None].astype(np.float32) / 255.0}, epochs=3, batch_size=32, verbose=0)
    description = {"task": "vae", "latent_dim": 2, "image_shape": [28, 28, 1]}
    path = export_generative(model, os.path.join(root, "vae"), description)
    MODELS[path] = model
    return path


def idx_data(directory) -> str:
    """The four IDX files of 256 + 64 learnable 28x28 images of 4 classes."""
    return write_learnable_idx(directory, train=256, test=64, num_classes=4)


def classifier_file(path: str, seed: int = 0) -> str:
    """A small 10-class CNN (the IDX loader's classes) fitted briefly on the learnable images, saved to ``path``."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    x, y = learnable_images(256, 4, seed=seed)
    image = keras.Input((28, 28, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu")(image)
    h = keras.layers.MaxPooling2D(4)(h)
    model = keras.Model(image, keras.layers.Dense(10, name="logits")(keras.layers.Flatten()(h)))
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[..., None] / 255.0, y, epochs=2, batch_size=32, verbose=0)
    model.save(path)
    return path
