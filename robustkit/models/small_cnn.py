"""The small MNIST network of the uncertainty and attack visualisation design.

5x5 convolutions (``model.filters`` channels, by default two of 16 and 32;
"same" padding, ReLU), each followed by 2x2 max-pooling and dropout, then an optional
hidden ReLU layer (``model.dense`` units, with dropout) and one dense layer to
the class logits. The dropout layers are what MC-dropout sampling switches on
at test time.
"""

import tf_keras as keras

from robustkit.models.options import SmallCNNConfig


def build(options: SmallCNNConfig, num_classes: int, channels: int) -> keras.Model:
    """Builds the network; it takes ``image`` in [0, 1] and returns logits."""
    size = options.input_size
    image = keras.Input(shape=(size, size, channels), name="image")
    x = image
    for i, filters in enumerate(options.filters, start=1):
        x = keras.layers.Conv2D(filters, 5, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = keras.layers.Dropout(options.dropout, name=f"dropout{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if options.dense:
        x = keras.layers.Dense(options.dense, activation="relu", name="hidden")(x)
        x = keras.layers.Dropout(options.dropout, name="dropout_hidden")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name="small_cnn")
