"""README training options that no other test reaches: model.bn_momentum, model.weights: <file>,
train.optimizer sgd with momentum, and train.schedule plateau and piecewise."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit.models import build_model
from robustkit.models.mobilenetv2 import MobileNetV2Config
from robustkit.training import callbacks as callbacks_lib
from robustkit.training import phases
from robustkit.training.config import ScheduleConfig, TrainJob
from robustkit.training.loop import build_trainer


def test_bn_momentum_sets_every_batchnorm_and_the_moving_average_step():
    keras.utils.set_random_seed(0)
    model = build_model(MobileNetV2Config(input_size=32, alpha=0.35, bn_momentum=0.75), num_classes=3, channels=3)
    backbone = phases.backbone_of(model)
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) > 10 and {layer.momentum for layer in norms} == {0.75}
    # The first BatchNorm's moving mean after one training batch: 0.75 * 0 + 0.25 * the batch mean.
    first = norms[0]
    feed = keras.Model(backbone.input, first.input)
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    batch_mean = feed(x * 2.0 - 1.0).numpy().mean(axis=(0, 1, 2))  # The model rescales [0, 1] to [-1, 1].
    model(x, training=True)
    np.testing.assert_allclose(first.moving_mean.numpy(), 0.25 * batch_mean, rtol=1e-4, atol=1e-6)


def test_weights_from_a_file_load_into_the_backbone(tmp_path):
    options = MobileNetV2Config(input_size=32, alpha=0.35)
    keras.utils.set_random_seed(1)
    source = phases.backbone_of(build_model(options, num_classes=3, channels=3))
    path = str(tmp_path / "backbone.h5")
    source.save_weights(path)
    keras.utils.set_random_seed(2)  # Without the file, the kernels would be this seed's, not the source's.
    loaded = phases.backbone_of(build_model(MobileNetV2Config(input_size=32, alpha=0.35, weights=path),
                                            num_classes=5, channels=1))  # Grey images: copied to three channels.
    for got, want in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)


def _job(*overrides):
    return config_lib.load(TrainJob, None, ["model={name: small_cnn}", *overrides])


def test_sgd_momentum_is_the_optimizer_and_makes_the_second_step_longer():
    job = _job("train.optimizer=sgd", "train.momentum=0.5", "train.learning_rate=0.1")
    _, trainer = build_trainer(job, num_classes=3, channels=1)
    optimizer = trainer.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD) and float(optimizer.momentum) == 0.5
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    # A known answer: with a constant gradient g, momentum m moves -lr g, then -lr g (1 + m).
    w = tf.Variable(np.zeros(2, np.float32))
    g = tf.constant([1.0, -2.0])
    optimizer.apply_gradients([(g, w)])
    first = w.numpy().copy()
    optimizer.apply_gradients([(g, w)])
    np.testing.assert_allclose(first, [-0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(w.numpy() - first, [-0.15, 0.3], rtol=1e-6)
    assert isinstance(build_trainer(_job("train.optimizer=adam"), 3, 1)[1].optimizer, keras.optimizers.Adam)


def _rates(schedule, epochs=5, learning_rate=0.1):
    """The learning rate at the start of each epoch of a tiny fit whose loss cannot improve by 100."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    model.compile(keras.optimizers.SGD(learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        float(model.optimizer.learning_rate)))
    x, y = np.ones((8, 3), np.float32), np.arange(8) % 2
    model.fit(x, y, epochs=epochs, verbose=0,
              callbacks=[*callbacks_lib.schedule_callbacks(schedule, learning_rate), record])
    return seen


def test_piecewise_schedule_changes_the_rate_at_its_boundaries():
    rates = _rates(ScheduleConfig(name="piecewise", boundaries=[1, 3], values=[0.1, 0.01, 0.001]))
    assert rates == pytest.approx([0.1, 0.01, 0.01, 0.001, 0.001])


def test_plateau_schedule_multiplies_by_factor_after_patience_down_to_min_lr():
    # min_delta 100: no epoch counts as an improvement after the first, so every `patience` epochs
    # the rate is multiplied by `factor`, but never below min_lr.
    schedule = ScheduleConfig(name="plateau", factor=0.5, patience=2, min_delta=100.0, min_lr=0.02)
    assert _rates(schedule, epochs=7) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    schedule = ScheduleConfig(name="plateau", factor=0.5, patience=1, min_delta=100.0, min_lr=0.02)
    assert _rates(schedule, epochs=5) == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02])
    assert callbacks_lib.schedule_callbacks(ScheduleConfig(name="constant")) == []


def test_small_cnn_filters_and_dense_set_the_blocks_and_the_hidden_layer():
    from robustkit.models.small_cnn import build as build_small_cnn
    from robustkit.models.options import SmallCNNConfig

    model = build_small_cnn(SmallCNNConfig(filters=[8, 12, 20], dense=24, dropout=0.0), num_classes=3, channels=1)
    shapes = [tuple(w.shape) for w in model.weights]
    # Three 5x5 blocks halve 28 to 14, 7 and 3; the hidden layer reads 3 * 3 * 20 features.
    assert shapes == [(5, 5, 1, 8), (8,), (5, 5, 8, 12), (12,), (5, 5, 12, 20), (20,), (180, 24), (24,), (24, 3), (3,)]
    hidden = model.get_layer("hidden")
    assert hidden.activation is keras.activations.relu
    # The default is the design's network: 16 and 32 channels, no hidden layer.
    default = build_small_cnn(SmallCNNConfig(), num_classes=10, channels=1)
    assert [tuple(w.shape) for w in default.weights][::2] == [(5, 5, 1, 16), (5, 5, 16, 32), (1568, 10)]


@pytest.mark.parametrize("override, message", [
    ("model.filters=[]", "non-empty"), ("model.filters=[16, 0]", "positive"), ("model.dense=-1", "at least 0"),
    ("model.filters=[4, 4, 4, 4, 4, 4]", "too small"),
])
def test_small_cnn_shapes_that_cannot_be_built_are_refused(override, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        _job(override)
