"""NSL adversarial regularisation: config, neighbours in [0, 1], one step by hand."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit.config import ConfigError
from robustkit.training import adversarial
from robustkit.training.config import AdversarialConfig, TrainJob


def _linear_model(pixels=4, classes=3, seed=0):
    image = keras.Input(shape=(pixels,), name="image")
    logits = keras.layers.Dense(classes, name="logits")(image)
    model = keras.Model(image, logits)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=(pixels, classes)).astype("float32"), np.zeros(classes, "float32")])
    return model


def test_config_checks_and_epsilon():
    assert AdversarialConfig(step_size=0.1).radius == 0.1
    assert AdversarialConfig(step_size=0.01, pgd_iterations=10).radius == pytest.approx(0.1)
    assert AdversarialConfig(step_size=0.01, pgd_iterations=10, pgd_epsilon=0.03).radius == 0.03
    with pytest.raises(ValueError, match="l1 works only with pgd_iterations = 1"):
        AdversarialConfig(norm="l1", pgd_iterations=3)
    with pytest.raises(ConfigError, match="mixed_float16 cannot be used with adversarial.enabled"):
        config_lib.parse(TrainJob, {"adversarial": {"enabled": True}, "train": {"precision": "mixed_float16"}})
    # Without adversarial training, mixed_float16 is allowed.
    config_lib.parse(TrainJob, {"train": {"precision": "mixed_float16"}})


def test_clip_bounds_are_per_feature_dicts():
    config = adversarial.nsl_config(AdversarialConfig(step_size=0.1))
    neighbour = config.adv_neighbor_config
    assert neighbour.clip_value_min == {"image": 0.0} and neighbour.clip_value_max == {"image": 1.0}


@pytest.mark.parametrize("norm, nsl_name", [("linf", "infinity"), ("infinity", "infinity"), ("l2", "l2"),
                                            ("l1", "l1")])
def test_nsl_receives_its_own_name_for_the_norm(norm, nsl_name):
    job = config_lib.parse(TrainJob, {"adversarial": {"enabled": True, "step_size": 0.1, "norm": norm}})
    assert job.adversarial.norm == ("linf" if norm == "infinity" else norm)
    wrapper = adversarial.wrap(_linear_model(), job.adversarial)
    assert wrapper.adv_config.adv_neighbor_config.adv_grad_norm.value == nsl_name


def test_fgsm_neighbour_moves_every_pixel_by_epsilon_unless_clipped():
    model = _linear_model()
    wrapper = adversarial.wrap(model, AdversarialConfig(step_size=0.1, norm="linf"))
    wrapper.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.array([[0.5, 0.5, 0.95, 0.02], [0.3, 0.6, 0.5, 0.99]], "float32")
    y = np.array([0, 2], "int64")
    adv = wrapper.perturb_on_batch({"image": x, "label": y})["image"]
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(xt))
    expected = np.clip(x + 0.1 * np.sign(tape.gradient(loss, xt).numpy()), 0.0, 1.0)
    np.testing.assert_allclose(adv, expected, atol=1e-6)
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    moved = np.abs(adv - x)
    unclipped = (expected > 0.0) & (expected < 1.0)
    np.testing.assert_allclose(moved[unclipped], 0.1, atol=1e-6)


def test_one_training_step_matches_the_hand_calculation():
    multiplier, eps, lr = 0.5, 0.05, 0.1
    model = _linear_model(seed=1)
    reference = _linear_model(seed=1)
    wrapper = adversarial.wrap(model, AdversarialConfig(multiplier=multiplier, step_size=eps))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    wrapper.compile(optimizer=keras.optimizers.SGD(lr), loss=loss_fn)
    x = np.array([[0.2, 0.4, 0.6, 0.8], [0.9, 0.1, 0.5, 0.5]], "float32")
    y = np.array([1, 0], "int64")
    wrapper.train_on_batch({"image": x, "label": y})

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        clean = loss_fn(y, reference(xt))
    x_adv = tf.clip_by_value(xt + eps * tf.sign(tape.gradient(clean, xt)), 0.0, 1.0)
    with tf.GradientTape() as tape:
        total = loss_fn(y, reference(xt)) + multiplier * loss_fn(y, reference(x_adv))
    grads = tape.gradient(total, reference.trainable_weights)
    for weight, w0, grad in zip(model.get_weights(), reference.get_weights(), grads):
        np.testing.assert_allclose(weight, w0 - lr * grad.numpy(), atol=1e-5)


def _random_init_options(random_init=True):
    return AdversarialConfig(enabled=True, step_size=0.02, pgd_iterations=3, pgd_epsilon=0.05, random_init=random_init)


def test_random_init_validates_on_batches_of_unknown_size():
    """NSL draws its random start with a static shape; Keras traces validation with a free batch size."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.2, 0.8, (7, 4)).astype("float32"), (np.arange(7) % 3).astype("int64")
    wrapper = adversarial.wrap(_linear_model(), _random_init_options())
    wrapper.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = tf.data.Dataset.from_tensor_slices({"image": x, "label": y}).batch(3, drop_remainder=True)
    val = tf.data.Dataset.from_tensor_slices({"image": x, "label": y}).batch(3)
    assert val.element_spec["image"].shape[0] is None
    logs = wrapper.fit(train, validation_data=val, epochs=1, verbose=0).history
    assert np.isfinite(logs["val_loss"][0]) and np.isfinite(logs["loss"][0])


def test_random_init_starts_elsewhere_and_stays_in_the_ball():
    rng = np.random.default_rng(1)
    batch = {"image": rng.uniform(0.2, 0.8, (16, 4)).astype("float32"), "label": (np.arange(16) % 3).astype("int64")}
    adversarial_losses, neighbours = {}, {}
    for random_init in (False, True):
        model = _linear_model(seed=2)
        wrapper = adversarial.wrap(model, _random_init_options(random_init))
        wrapper.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        tf.random.set_seed(0)
        wrapper(batch, training=True)  # The training step's call: a static batch, NSL's own random start.
        adversarial_losses[random_init] = float(wrapper.losses[-1])
        neighbours[random_init] = wrapper.perturb_on_batch(batch)["image"]
    assert adversarial_losses[True] != pytest.approx(adversarial_losses[False], rel=1e-4)
    assert np.abs(neighbours[True] - neighbours[False]).max() > 1e-3, "random init changes the neighbour"
    for adv in neighbours.values():
        assert np.abs(adv - batch["image"]).max() <= 0.05 + 1e-6
        assert adv.min() >= 0.0 and adv.max() <= 1.0
