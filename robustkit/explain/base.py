"""What every attribution method shares: the call convention, batching, logits, gradients.

A method is called as ``method(model, images, targets) -> maps``; see
`robustkit.explain.saliency` for the convention and the registered methods.
"""

from typing import Any, Callable, Dict, Tuple

import tensorflow as tf
import tf_keras as keras

from robustkit.explain import options as opts
from robustkit.explain import rewire


class LayersUnavailable(TypeError):
    """A method that needs a Keras model's layers was given a plain callable."""


def logits_function(model) -> Callable[[tf.Tensor], tf.Tensor]:
    """``model`` as images -> float32 logits; Keras models run in inference mode with softmax bypassed."""
    if isinstance(model, keras.Model):
        logits = rewire.logits_model(model)
        return lambda images: tf.cast(logits(images, training=False), tf.float32)
    return lambda images: tf.cast(model(images), tf.float32)


def target_gradient(fn: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """d logit[target] / d image, per image (images do not interact in inference mode)."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        chosen = tf.gather(fn(images), targets, batch_dims=1)
    return tape.gradient(chosen, images)


def apply_mode(maps: tf.Tensor, mode: str) -> tf.Tensor:
    """signed: as is; positive: max(m, 0); negative: max(-m, 0); absolute: |m|."""
    if mode == "positive":
        return tf.nn.relu(maps)
    if mode == "negative":
        return tf.nn.relu(-maps)
    if mode == "absolute":
        return tf.abs(maps)
    return maps


class Explainer:
    """The base of every method: argument checks, batching, one compiled function per model.

    Attributes:
      options: the method's config block.
      max_batch: images per gradient pass.
      needs_layers: whether the method needs a Keras model.
    """

    needs_layers = False

    def __init__(self, options: opts.ExplainerConfig, max_batch: int = 256):
        self.options = options
        self.max_batch = max_batch
        self._functions: Dict[int, Tuple[Any, Callable]] = {}

    @property
    def signed(self) -> bool:
        """Whether maps take both signs (drawn on a diverging scale) rather than being non-negative."""
        return getattr(self.options, "mode", "signed") == "signed"

    def __call__(self, model, images, targets) -> tf.Tensor:
        """Maps of ``images`` explaining ``targets``, float32 ``[B, H, W, C]``."""
        images = tf.convert_to_tensor(images, tf.float32)
        targets = tf.cast(tf.convert_to_tensor(targets), tf.int64)
        if images.shape.rank != 4 or targets.shape.rank != 1 or targets.shape[0] != images.shape[0]:
            raise ValueError(f"expected images [B, H, W, C] and targets [B]; got {images.shape} and {targets.shape}")
        if self.needs_layers and not isinstance(model, keras.Model):
            raise LayersUnavailable(f"{self.options.name} needs a tf-keras model's layers; got "
                                    f"{type(model).__name__}")
        key = id(model)
        if key not in self._functions:
            self._functions[key] = (model, self.build(model, images.shape[1:]))
        fn = self._functions[key][1]
        per_pass = max(1, self.max_batch // self.rows_per_image)
        parts = [self.explain(fn, images[start:start + per_pass], targets[start:start + per_pass])
                 for start in range(0, int(images.shape[0]), per_pass)]
        return apply_mode(tf.concat(parts, 0), getattr(self.options, "mode", "signed"))

    @property
    def rows_per_image(self) -> int:
        return 1

    def build(self, model, image_shape: tf.TensorShape) -> Callable:
        """The compiled function ``explain`` calls (made once per model)."""
        raise NotImplementedError

    def explain(self, fn: Callable, images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Signed maps of one batch."""
        return fn(images, targets)

    def describe(self) -> str:
        mode = getattr(self.options, "mode", None)
        return f"{self.options.name} ({mode})" if mode else self.options.name


def signature(image_shape, *extra: tf.TensorSpec):
    return [tf.TensorSpec([None, *image_shape], tf.float32), tf.TensorSpec([None], tf.int64), *extra]
