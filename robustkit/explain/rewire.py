"""Copies of a Keras model with chosen layers swapped, sharing every other layer's weights.

The attribution methods, the activation maps and MC dropout all need a model
that computes something slightly different from the trained one: softmax
switched off, ReLU gradients guided, dropout left on, an intermediate output
kept. `rewire` makes such a copy with `keras.models.clone_model`, whose clone
function returns the *same* layer object for every layer that stays (so the
copy reads the trained variables, including BatchNorm's moving statistics,
and no weight is duplicated), recurses into nested models (MobileNetV2's
backbone is one), and returns a replacement for the layers that change:

- a `Wrapper` (`AlwaysOn`, `Recorder`) calls the original layer itself;
- a changed copy (`copy_layer`) gets the original's weights once built.

Subclassed models have no layer graph to copy: `RewireError`.
"""

from typing import Callable, Iterator, List, Optional, Tuple

import tensorflow as tf
import tf_keras as keras

Layer = keras.layers.Layer

DROPOUT_TYPES = (keras.layers.Dropout, keras.layers.GaussianDropout, keras.layers.AlphaDropout)
CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


class RewireError(TypeError):
    """A model whose layers cannot be reached (a subclassed model, or not a Keras model)."""


class Wrapper(Layer):
    """A layer that calls ``inner`` (the original layer, weights and all) under the same name."""

    def __init__(self, inner: Layer, **kwargs):
        super().__init__(name=inner.name, dtype=inner.dtype, **kwargs)
        self.inner = inner

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape)


class AlwaysOn(Wrapper):
    """Calls a dropout layer in training mode whatever mode the model runs in (MC dropout)."""

    def call(self, inputs):
        return self.inner(inputs, training=True)


class Recorder(Wrapper):
    """Calls ``inner`` and keeps its output in ``value``, in the graph being traced or run."""

    def __init__(self, inner: Layer, **kwargs):
        super().__init__(inner, **kwargs)
        self.value = None

    def call(self, inputs, training=None):
        outputs = self.inner(inputs, training=training)
        self.value = outputs
        return outputs


def guided_relu(x: tf.Tensor, max_value: Optional[float] = None, threshold: float = 0.0,
                negative_slope: float = 0.0) -> tf.Tensor:
    """A ReLU (or ReLU6) whose gradient passes only where its input is active and the gradient positive.

    The backward rule of guided backpropagation (Springenberg et al., 2015,
    "Striving for Simplicity: The All Convolutional Net"):
    ``dx = dy * [threshold < x < max_value] * [dy > 0]``. The forward value is
    Keras's own relu with the same arguments.
    """

    @tf.custom_gradient
    def forward(inputs):
        outputs = keras.backend.relu(inputs, alpha=negative_slope, max_value=max_value, threshold=threshold)

        def backward(dy):
            active = inputs > threshold
            if max_value is not None:
                active = tf.logical_and(active, inputs < max_value)
            return dy * tf.cast(tf.logical_and(active, dy > 0), dy.dtype)

        return outputs, backward

    return forward(x)


class GuidedReLU(Layer):
    """`keras.layers.ReLU` (MobileNetV2's ReLU6 included) with the guided gradient."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        return guided_relu(inputs, self.max_value, self.threshold, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape


def guided_activation(name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """The guided version of the activation function ``relu`` or ``relu6``."""
    max_value = 6.0 if name == "relu6" else None
    return lambda x: guided_relu(x, max_value=max_value)


def activation_name(layer: Layer) -> Optional[str]:
    """The name of a layer's activation function (``relu``, ``softmax``, ...), if it has one."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def copy_layer(layer: Layer, **changes) -> Layer:
    """A new layer of the same class, config changed by ``changes``; `rewire` copies the weights in."""
    return type(layer).from_config({**layer.get_config(), **changes})


def rewire(model: keras.Model, replace: Callable[[Layer], Optional[Layer]]) -> keras.Model:
    """A copy of ``model`` with ``replace(layer)`` in place of each layer for which it is not None.

    Args:
      model: a Functional or Sequential tf-keras model (nested ones are rewired too).
      replace: returns None to keep a layer (shared, not copied), a `Wrapper`
        of it, or a changed copy made by `copy_layer`.

    Raises:
      RewireError: if ``model`` or a model nested in it is subclassed.
    """
    copies: List[Tuple[Layer, Layer]] = []

    def clone(layer: Layer) -> Layer:
        if isinstance(layer, keras.Model):
            return _clone(layer, clone)
        new = replace(layer)
        if new is None:
            return layer
        if not isinstance(new, Wrapper) and layer.weights:
            copies.append((layer, new))
        return new

    rewired = _clone(model, clone)
    for old, new in copies:
        new.set_weights(old.get_weights())
    return rewired


def _clone(model: keras.Model, clone: Callable[[Layer], Layer]) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise RewireError(f"{type(model).__name__} is not a tf-keras model; its layers cannot be reached")
    try:
        return keras.models.clone_model(model, clone_function=clone)
    except ValueError as err:
        raise RewireError(f"model {model.name!r} cannot be rewired (a subclassed model has no layer graph): "
                          f"{err}") from None


def walk(model: keras.Model) -> Iterator[Layer]:
    """Every layer of ``model`` in topological order, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from walk(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def find_layer(model: keras.Model, name: str) -> Layer:
    """The layer called ``name``, searched inside nested models too.

    Raises:
      KeyError: naming the convolution layers there are.
    """
    for layer in walk(model):
        if layer.name == name:
            return layer
    convs = [layer.name for layer in conv_layers(model)]
    shown = ", ".join(convs[:8] + (["..."] + convs[-4:] if len(convs) > 12 else convs[8:]))
    raise KeyError(f"model {model.name!r} has no layer {name!r}; its convolution layers: {shown or 'none'}")


def conv_layers(model: keras.Model) -> List[Layer]:
    """The 2-D convolution layers (plain, depthwise, separable), in topological order."""
    return [layer for layer in walk(model) if isinstance(layer, CONV_TYPES)]


def output_size(layer: Layer) -> Optional[int]:
    """The spatial width of a layer's output in the model it was built in (None if unknown)."""
    try:
        shape = layer.get_output_at(0).shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    return shape[2] if shape.rank == 4 else None


def dropout_layers(model: keras.Model) -> List[Layer]:
    """The dropout layers (plain, spatial, Gaussian, alpha), in topological order."""
    return [layer for layer in walk(model) if isinstance(layer, DROPOUT_TYPES)]


def _output_layer(model: keras.Model) -> Layer:
    layer = model.layers[-1]
    while isinstance(layer, keras.Model) and layer.layers:
        layer = layer.layers[-1]
    return layer


def logits_model(model: keras.Model) -> keras.Model:
    """``model`` with a softmax output layer made linear, so it returns logits; ``model`` itself if it has none."""
    last = _output_layer(model)
    if not (isinstance(last, keras.layers.Softmax) or activation_name(last) == "softmax"):
        return model

    def replace(layer: Layer) -> Optional[Layer]:
        if layer is not last:
            return None
        if isinstance(layer, keras.layers.Softmax):
            return keras.layers.Activation("linear", name=layer.name)
        return copy_layer(layer, activation="linear")

    return rewire(model, replace)


def guided_model(model: keras.Model) -> keras.Model:
    """``model`` with every ReLU (layers and fused activations, ReLU6 included) made guided."""

    def replace(layer: Layer) -> Optional[Layer]:
        if isinstance(layer, keras.layers.ReLU):
            return GuidedReLU(layer.max_value, layer.negative_slope, layer.threshold, name=layer.name)
        name = activation_name(layer)
        if name in ("relu", "relu6"):
            return copy_layer(layer, activation=guided_activation(name))
        return None

    return rewire(model, replace)


def mc_dropout_model(model: keras.Model) -> keras.Model:
    """``model`` with every dropout layer active even when called with ``training=False``."""
    return rewire(model, lambda layer: AlwaysOn(layer) if isinstance(layer, DROPOUT_TYPES) else None)


def recording_model(model: keras.Model, layers: List[Layer]) -> Tuple[keras.Model, List[Recorder]]:
    """``model`` with a `Recorder` around each of ``layers`` (in that order)."""
    wanted = {id(layer): i for i, layer in enumerate(layers)}
    recorders: List[Optional[Recorder]] = [None] * len(layers)

    def replace(layer: Layer) -> Optional[Layer]:
        index = wanted.get(id(layer))
        if index is None:
            return None
        recorders[index] = Recorder(layer)
        return recorders[index]

    rewired = rewire(model, replace)
    missing = [layers[i].name for i, r in enumerate(recorders) if r is None]
    if missing:
        raise KeyError(f"layers {missing} are not in model {model.name!r}")
    return rewired, recorders  # type: ignore[return-value]
