"""Attribution methods: known answers on tiny models, and every registered method's contract."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit.explain import options, saliency
from robustkit.explain.saliency import EXPLAINERS, LayersUnavailable, build_explainer
from tests.explain import tiny_models


def _explain(options_obj, model, x, t, **kw):
    return build_explainer(options_obj, **kw)(model, x, t).numpy()


@pytest.mark.parametrize("softmax", [False, True], ids=["logits", "softmax_output_bypassed"])
@pytest.mark.parametrize("mode, transform", [("signed", lambda w: w), ("positive", lambda w: np.maximum(w, 0)),
                                             ("negative", lambda w: np.maximum(-w, 0)), ("absolute", np.abs)])
def test_vanilla_gradient_of_a_linear_model_is_the_weight_row(softmax, mode, transform):
    model = tiny_models.linear(softmax=softmax)
    weights = model.get_weights()[0]
    x = tiny_models.images(5, (4, 4, 1))
    targets = np.array([0, 1, 2, 1, 0])
    maps = _explain(options.VanillaConfig(mode=mode), model, x, targets)
    for i, t in enumerate(targets):
        np.testing.assert_allclose(maps[i], transform(weights[:, t]).reshape(4, 4, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("baseline", [0.0, 0.5])
def test_integrated_gradients_sum_to_the_logit_difference(baseline):
    model = tiny_models.smooth()
    x = tiny_models.images(4, (4, 4, 2), seed=3)
    targets = np.array([0, 1, 2, 0])
    maps = _explain(options.IntegratedGradientsConfig(steps=50, baseline=baseline), model, x, targets, max_batch=37)
    gap = (model(x).numpy() - model(np.full_like(x, baseline)).numpy())[np.arange(4), targets]
    np.testing.assert_allclose(maps.reshape(4, -1).sum(axis=1), gap, rtol=0.01)


def test_smoothgrad_without_noise_is_the_vanilla_gradient():
    model = tiny_models.nested_cnn(head_dropout=0.0)
    x = tiny_models.images(3, (12, 12, 3))
    targets = np.array([0, 3, 1])
    vanilla = _explain(options.VanillaConfig(), model, x, targets)
    smooth = _explain(options.SmoothGradConfig(samples=4, noise=0.0, mode="signed"), model, x, targets, max_batch=5)
    np.testing.assert_allclose(smooth, vanilla, rtol=1e-5, atol=1e-7)
    noisy = _explain(options.SmoothGradConfig(samples=4, noise=0.2, mode="signed"), model, x, targets)
    assert not np.allclose(noisy, vanilla)


@pytest.mark.parametrize("fused", [True, False], ids=["fused_relu", "relu_layer"])
def test_guided_backprop_passes_only_positive_gradients_through_active_units(fused):
    model, a, b = tiny_models.two_layer_relu(fused=fused)
    x = tiny_models.images(4, (8, 1, 1), seed=2) - 0.5
    targets = np.array([0, 1, 2, 1])
    guided = _explain(options.GuidedBackpropConfig(), model, x, targets).reshape(4, -1)
    vanilla = _explain(options.VanillaConfig(), model, x, targets).reshape(4, -1)
    active = (x.reshape(4, -1) @ a) > 0
    for i, t in enumerate(targets):
        np.testing.assert_allclose(guided[i], a @ (np.maximum(b[:, t], 0) * active[i]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(vanilla[i], a @ (b[:, t] * active[i]), rtol=1e-5, atol=1e-6)


def test_guided_backprop_leaves_the_model_untouched():
    model, a, _ = tiny_models.two_layer_relu(fused=True)
    x = tiny_models.images(2, (8, 1, 1))
    before = model(x).numpy()
    _explain(options.GuidedBackpropConfig(), model, x, np.array([0, 1]))
    np.testing.assert_array_equal(model(x).numpy(), before)
    np.testing.assert_array_equal(model.get_weights()[0], a)


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_every_method_returns_finite_maps_of_the_image_shape(name):
    model = tiny_models.nested_cnn(softmax=True)
    x = tiny_models.images(5, (12, 12, 3))
    explainer = build_explainer(EXPLAINERS.options(name)(), max_batch=16)
    maps = explainer(model, x, np.array([0, 1, 2, 3, 0])).numpy()
    assert maps.shape == x.shape and maps.dtype == np.float32
    assert np.isfinite(maps).all() and np.abs(maps).sum() > 0
    if not explainer.signed:
        assert maps.min() >= 0
    again = explainer(model, x[:2], np.array([0, 1])).numpy()
    np.testing.assert_allclose(again, maps[:2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_methods_on_a_plain_callable(name):
    model = tiny_models.linear()
    x = tiny_models.images(2, (4, 4, 1))
    explainer = build_explainer(EXPLAINERS.options(name)())
    call = lambda images: model(images)  # noqa: E731 - a model without layers
    if explainer.needs_layers:
        with pytest.raises(LayersUnavailable, match="needs a tf-keras model"):
            explainer(call, x, np.array([0, 1]))
    else:
        assert explainer(call, x, np.array([0, 1])).shape == x.shape


class _QuadrantMask(keras.layers.Layer):
    """Zeroes everything but the top-left quadrant."""

    def call(self, inputs):
        size = inputs.shape[1]
        mask = np.zeros((1, size, size, 1), np.float32)
        mask[:, :size // 2, :size // 2] = 1.0
        return inputs * mask


def _quadrant_model() -> keras.Model:
    image = keras.Input(shape=(16, 16, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(_QuadrantMask()(image))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(image, keras.layers.Dense(2, name="logits")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(0.1, 1.0, (3, 3, 1, 4)).astype("float32"), np.zeros(4, np.float32),
                       rng.uniform(0.1, 1.0, (4, 2)).astype("float32"), np.zeros(2, np.float32)])
    return model


@pytest.mark.parametrize("layer", [None, "conv"], ids=["found", "named"])
def test_gradcam_lights_the_quadrant_the_model_looks_at(layer):
    model = _quadrant_model()
    x = tiny_models.images(3, (16, 16, 1)) * 0.9 + 0.1
    explainer = build_explainer(options.GradCamConfig(layer=layer))
    cam = explainer(model, x, np.array([0, 1, 0])).numpy()[..., 0]
    assert explainer.layer_used(model) == "conv"
    assert (cam[:, 9:, :] == 0).all() and (cam[:, :, 9:] == 0).all()  # one pixel of padding reach
    assert (cam[:, :8, :8].sum(axis=(1, 2)) / cam.sum(axis=(1, 2)) > 0.9).all()


def test_gradcam_finds_a_wide_enough_layer_and_rejects_unknown_names():
    model = tiny_models.nested_cnn(size=12)
    assert build_explainer(options.GradCamConfig(min_resolution=4)).layer_used(model) == "conv_b"
    explainer = build_explainer(options.GradCamConfig(layer="nope"))
    with pytest.raises(KeyError, match="no layer 'nope'; its convolution layers: conv_a, conv_b"):
        explainer(model, tiny_models.images(1, (12, 12, 3)), np.array([0]))


def test_methods_are_compiled_once_per_model():
    model = tiny_models.linear()
    explainer = build_explainer(options.VanillaConfig())
    for n in (1, 3, 2):
        explainer(model, tiny_models.images(n, (4, 4, 1)), np.zeros(n, np.int64))
    fn = explainer._functions[id(model)][1]
    assert isinstance(fn, tf.types.experimental.PolymorphicFunction)
    assert fn.experimental_get_tracing_count() == 1


def test_bad_arguments_fail_clearly():
    explainer = saliency.build_explainer(options.VanillaConfig())
    with pytest.raises(ValueError, match=r"expected images \[B, H, W, C\] and targets \[B\]"):
        explainer(tiny_models.linear(), np.zeros((2, 4, 4, 1), np.float32), np.zeros(3, np.int64))
