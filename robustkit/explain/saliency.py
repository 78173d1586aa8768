"""Attribution methods: one class each, called as ``method(model, images, targets) -> maps``.

``model`` is a tf-keras model or any callable from float32 images in [0, 1] to
class scores; a Keras model whose output layer applies softmax is explained
through a copy with that layer linear (`robustkit.explain.rewire.logits_model`),
so every method differentiates logits, as the "last layer linear" of "Adversarially-Trained Classifier" asks.
Grad-CAM and guided backpropagation need the model's layers: they take Keras
models only (`LayersUnavailable` otherwise).

``images`` are float32 ``[B, H, W, C]``; ``targets`` the class explained per
image, int ``[B]``. Every method returns float32 maps of the images' shape
``[B, H, W, C]`` (Grad-CAM's single channel repeated over ``C``). Work is
batched and compiled with `tf.function`, once per model; ``max_batch`` bounds
the images of one gradient pass (SmoothGrad and Integrated Gradients evaluate
many per example).

Registered methods (`EXPLAINERS`, from `robustkit.explain.registry`): ``vanilla``, ``smoothgrad``,
``integrated_gradients``, ``gradcam`` (`robustkit.explain.gradcam`),
``guided_backprop``.
"""

import numpy as np
import tensorflow as tf

from robustkit.explain import options as opts
from robustkit.explain import rewire
from robustkit.explain.base import Explainer, LayersUnavailable, logits_function, signature, target_gradient
from robustkit.explain.gradcam import GradCam
from robustkit.explain.registry import EXPLAINERS


class VanillaGradient(Explainer):
    """The gradient of the target's logit with respect to the input pixels.

    Simonyan, Vedaldi and Zisserman (2014), "Deep Inside Convolutional Networks:
    Visualising Image Classification Models and Saliency Maps". The positive
    and negative gradient maps of "Adversarially-Trained Classifier" are the modes ``positive`` and
    ``negative``. For a linear model the map is the target's weight row.
    """

    def build(self, model, image_shape):
        fn = logits_function(model)
        return tf.function(lambda x, t: target_gradient(fn, x, t), input_signature=signature(image_shape))


class SmoothGrad(Explainer):
    """The vanilla gradient averaged over noisy copies of the image.

    Smilkov, Thorat, Kim, Viegas and Wattenberg (2017), "SmoothGrad: removing
    noise by adding noise": ``mean_n grad(x + N(0, sigma^2))`` with ``sigma =
    noise * (max - min)`` of the input range (1 here). The mode is applied to
    the average; with ``noise: 0`` the result is the vanilla gradient.
    """

    @property
    def rows_per_image(self) -> int:
        return self.options.samples

    def build(self, model, image_shape):
        fn = logits_function(model)
        sigma = float(self.options.noise)

        def summed(x, t, copies, seed):
            batch = tf.shape(x)[0]
            noisy = tf.tile(x, tf.stack([copies, 1, 1, 1]))
            noisy += sigma * tf.random.stateless_normal(tf.shape(noisy), seed)
            grads = target_gradient(fn, noisy, tf.tile(t, [copies]))
            return tf.reduce_sum(tf.reshape(grads, tf.concat([[copies, batch], tf.shape(x)[1:]], 0)), axis=0)

        return tf.function(summed, input_signature=signature(
            image_shape, tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int64)))

    def explain(self, fn, images, targets):
        samples = self.options.samples
        per_pass = max(1, min(samples, self.max_batch // int(images.shape[0])))
        total = tf.zeros_like(images)
        for index, start in enumerate(range(0, samples, per_pass)):
            copies = min(per_pass, samples - start)
            seed = tf.constant([self.options.seed, index], tf.int64)
            total += fn(images, targets, tf.constant(copies, tf.int32), seed)
        return total / samples


class IntegratedGradients(Explainer):
    """Path-integrated gradients from a constant baseline image to the image.

    Sundararajan, Taly and Yan (2017), "Axiomatic Attribution for Deep
    Networks": ``(x - x') * integral_0^1 grad f(x' + a (x - x')) da``, by the
    trapezoidal rule over ``steps`` intervals. Completeness: the attributions
    sum to ``f(x) - f(x')`` up to the quadrature error.
    """

    @property
    def rows_per_image(self) -> int:
        return self.options.steps + 1

    def build(self, model, image_shape):
        fn = logits_function(model)
        baseline = float(self.options.baseline)

        def weighted(x, t, alphas, weights):
            batch, count = tf.shape(x)[0], tf.shape(alphas)[0]
            shape = tf.concat([[count, batch], tf.shape(x)[1:]], 0)
            a = tf.reshape(alphas, [-1, 1, 1, 1, 1])
            path = tf.reshape(baseline + a * (x[None] - baseline), tf.concat([[-1], tf.shape(x)[1:]], 0))
            grads = tf.reshape(target_gradient(fn, path, tf.tile(t, [count])), shape)
            return tf.reduce_sum(grads * tf.reshape(weights, [-1, 1, 1, 1, 1]), axis=0)

        return tf.function(weighted, input_signature=signature(
            image_shape, tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32)))

    def explain(self, fn, images, targets):
        steps = self.options.steps
        alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
        weights = np.full(steps + 1, 1.0 / steps, np.float32)
        weights[[0, -1]] /= 2.0
        per_pass = max(1, self.max_batch // int(images.shape[0]))
        integral = tf.zeros_like(images)
        for start in range(0, steps + 1, per_pass):
            part = slice(start, start + per_pass)
            integral += fn(images, targets, tf.constant(alphas[part]), tf.constant(weights[part]))
        return (images - self.options.baseline) * integral


class GuidedBackprop(Explainer):
    """The input gradient with every ReLU's backward pass guided.

    Springenberg, Dosovitskiy, Brox and Riedmiller (2015), "Striving for
    Simplicity: The All Convolutional Net": a ReLU passes gradient back only
    where its input was positive *and* the incoming gradient is positive
    (`robustkit.explain.rewire.guided_relu`; MobileNetV2's ReLU6 layers and
    fused ``relu`` activations alike).

    Caution: the maps look crisp but hardly depend on the model. Adebayo et al.
    (2018), "Sanity Checks for Saliency Maps", show that guided backpropagation
    fails the model-parameter randomisation test (its maps barely change when
    the weights are re-initialised), and Nie, Zhang and Patel (2018), "A
    Theoretical Explanation for Perplexing Behaviors of Backpropagation-based
    Visualizations", show it largely reconstructs the image. Read them as edge
    maps of the input, not as evidence of what the model uses.
    """

    needs_layers = True

    def build(self, model, image_shape):
        guided = rewire.guided_model(rewire.logits_model(model))
        fn = lambda images: tf.cast(guided(images, training=False), tf.float32)  # noqa: E731
        return tf.function(lambda x, t: target_gradient(fn, x, t), input_signature=signature(image_shape))


__all__ = ["EXPLAINERS", "Explainer", "GradCam", "GuidedBackprop", "IntegratedGradients", "LayersUnavailable",
           "SmoothGrad", "VanillaGradient", "build_explainer"]


def build_explainer(options: opts.ExplainerConfig, max_batch: int = 256) -> Explainer:
    """Builds the method a config block names."""
    return EXPLAINERS.build(options, max_batch=max_batch)
