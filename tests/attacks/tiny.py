"""Tiny models and data the attack and evaluation tests share."""

import functools

import numpy as np
import tf_keras as keras

from tests.helpers import learnable_images


def images(n: int, seed: int = 0, num_classes: int = 4):
    """``n`` learnable 28x28x1 images in [0, 1] and their int64 labels."""
    x, y = learnable_images(n, num_classes, seed=seed)
    return (x[..., None] / 255.0).astype("float32"), y.astype("int64")


def linear_model(shape=(4, 4, 1), classes: int = 3, seed: int = 0) -> keras.Model:
    """Logits = flatten(image) @ W with fixed random W: gradients by hand are easy."""
    image = keras.Input(shape=shape, name="image")
    flat = keras.layers.Flatten()(image)
    logits = keras.layers.Dense(classes, use_bias=False, name="logits")(flat)
    model = keras.Model(image, logits)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=(int(np.prod(shape)), classes)).astype("float32")])
    return model


def cnn(classes: int = 4, seed: int = 0) -> keras.Model:
    """A small convolutional classifier of 28x28x1 images (input ``image``, logits out)."""
    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=(28, 28, 1), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu")(image)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(image, keras.layers.Dense(classes, name="logits")(x))


@functools.lru_cache(maxsize=None)
def trained_cnn(classes: int = 4, seed: int = 0, epochs: int = 2) -> keras.Model:
    """`cnn` fitted on 512 learnable images (accuracy near 1), shared within a test process."""
    model = cnn(classes, seed)
    x, y = images(512, seed=seed)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model
