"""Tiny Keras models with known answers, shared by the explanation tests."""

import numpy as np
import tf_keras as keras


def linear(shape=(4, 4, 1), classes: int = 3, softmax: bool = False, seed: int = 0) -> keras.Model:
    """``logits = flatten(image) @ W`` (softmax applied if asked) with fixed random ``W`` and no bias."""
    image = keras.Input(shape=shape, name="image")
    flat = keras.layers.Flatten()(image)
    out = keras.layers.Dense(classes, use_bias=False, activation="softmax" if softmax else None, name="logits")(flat)
    model = keras.Model(image, out)
    model.set_weights([np.random.default_rng(seed).normal(size=(int(np.prod(shape)), classes)).astype("float32")])
    return model


def smooth(shape=(4, 4, 2), classes: int = 3, seed: int = 0) -> keras.Model:
    """A two-layer tanh network: smooth, so path integrals converge fast."""
    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Dense(16, activation="tanh")(keras.layers.Flatten()(image))
    return keras.Model(image, keras.layers.Dense(classes, name="logits")(x))


def two_layer_relu(d: int = 8, hidden: int = 6, classes: int = 3, fused: bool = True, seed: int = 0):
    """``logits = relu(flatten(x) @ A) @ B``; returns the model, A and B (ReLU fused or as a layer)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, hidden)).astype("float32")
    b = rng.normal(size=(hidden, classes)).astype("float32")
    image = keras.Input(shape=(d, 1, 1), name="image")
    flat = keras.layers.Flatten()(image)
    if fused:
        h = keras.layers.Dense(hidden, use_bias=False, activation="relu")(flat)
    else:
        h = keras.layers.ReLU()(keras.layers.Dense(hidden, use_bias=False)(flat))
    model = keras.Model(image, keras.layers.Dense(classes, use_bias=False, name="logits")(h))
    model.set_weights([a, b])
    return model, a, b


def nested_cnn(size: int = 12, channels: int = 3, classes: int = 4, inner_dropout: float = 0.0,
               head_dropout: float = 0.5, softmax: bool = False, seed: int = 0) -> keras.Model:
    """MobileNetV2 in small: a nested backbone (conv, BatchNorm, ReLU6, conv with fused relu), then a dropout head."""
    keras.utils.set_random_seed(seed)
    inner_in = keras.Input(shape=(size, size, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inner_in)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.ReLU(6.0, name="relu6_a")(x)
    x = keras.layers.Dropout(inner_dropout, name="inner_dropout")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    backbone = keras.Model(inner_in, x, name="backbone")
    image = keras.Input(shape=(size, size, channels), name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0)(image)
    x = keras.layers.Dropout(head_dropout, name="head_dropout")(backbone(x))
    out = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="logits")(x)
    model = keras.Model(image, out, name="nested")
    bn = backbone.get_layer("bn_a")
    bn.moving_mean.assign(np.linspace(-0.5, 0.5, 4).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 4).astype("float32"))
    return model


def images(n: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, *shape)).astype("float32")
