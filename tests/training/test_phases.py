"""Fine-tuning phases: what each spec freezes, and switching inside one fit."""

import json

import numpy as np
import pytest
import tf_keras as keras

from robustkit.models import build_model
from robustkit.models.mobilenetv2 import MobileNetV2Config
from robustkit.models.small_cnn import SmallCNNConfig
from robustkit.training import phases
from robustkit.training.config import PhaseConfig


def _trainable_names(model):
    return {w.name for w in model.trainable_weights}


def test_specs_on_mobilenetv2():
    model = build_model(MobileNetV2Config(input_size=32, alpha=0.35), num_classes=5, channels=3)
    backbone = phases.backbone_of(model)
    assert backbone is not None
    phases.set_trainable(model, "head")
    assert _trainable_names(model) == {w.name for w in model.get_layer("logits").trainable_weights}
    phases.set_trainable(model, "top:3")
    expected = {w.name for layer in backbone.layers[-3:] for w in layer.trainable_weights}
    expected |= {w.name for w in model.get_layer("logits").trainable_weights}
    assert len(expected) > 2 and _trainable_names(model) == expected
    phases.set_trainable(model, "all")
    assert len(model.trainable_weights) == len(
        [w for w in model.weights if "moving_" not in w.name]
    )


def test_specs_on_a_model_without_backbone():
    model = build_model(SmallCNNConfig(), num_classes=10, channels=1)
    phases.set_trainable(model, "head")
    assert _trainable_names(model) == {w.name for w in model.get_layer("logits").weights}
    phases.set_trainable(model, "top:1")
    assert _trainable_names(model) == {
        w.name for name in ("conv2", "logits") for w in model.get_layer(name).weights
    }


@pytest.mark.parametrize("bad", ["top:0", "middle", "top:x"])
def test_bad_trainable_spec(bad):
    with pytest.raises(ValueError, match="expected head, top:N"):
        PhaseConfig(trainable=bad)


def _fit_with(phase_list, tmp_path, epochs, plateau=None, losses=None, seed=0, batch_size=16):
    keras.utils.set_random_seed(seed)  # The same weights whichever tests ran before.
    model = build_model(SmallCNNConfig(dropout=0.0), num_classes=3, channels=1)
    optimizer = keras.optimizers.SGD(0.05)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    phases.prepare_optimizer(model, optimizer)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 3, size=32)
    snapshots = []
    losses = [] if losses is None else losses

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((model.get_layer("conv1").get_weights()[0].copy(), float(optimizer.learning_rate)))
            losses.append(logs["loss"])

    state = tmp_path / "phases.json"
    schedules = [plateau] if plateau else []
    controller = phases.PhaseController(phase_list, model, str(state), True, schedules)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[controller, *schedules, Snapshot()], verbose=0)
    return model, snapshots, json.loads(state.read_text())["phase_starts"]


def test_phases_switch_inside_fit(tmp_path):
    plan = [
        PhaseConfig(trainable="head", learning_rate=0.05, epochs=2),
        PhaseConfig(trainable="all", learning_rate=0.01),
    ]
    # This plateau schedule sees no improvement after epoch 0 (min_delta is huge):
    # only the reset at the phase change keeps it from halving the rate at epoch 2.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=10.0)
    model, snaps, starts = _fit_with(plan, tmp_path, epochs=4, plateau=plateau)
    assert starts == [0, 2]
    np.testing.assert_array_equal(snaps[0][0], snaps[1][0])  # Head only: conv1 frozen.
    assert not np.array_equal(snaps[1][0], snaps[2][0])  # All: conv1 trains.
    assert [lr for _, lr in snaps] == pytest.approx([0.05, 0.05, 0.01, 0.01])


def test_plateau_moves_on_early(tmp_path):
    # A learning rate this small barely changes the loss: the first phase plateaus.
    plan = [
        PhaseConfig(trainable="head", learning_rate=1e-9, epochs=10, until_plateau=True, patience=1, min_delta=0.05),
        PhaseConfig(trainable="all", learning_rate=0.01),
    ]
    _, _, starts = _fit_with(plan, tmp_path, epochs=4)
    assert starts == [0, 2], "loss flat after epoch 0 and 1 -> the second phase starts at epoch 2"


def test_plateau_waits_while_the_loss_keeps_improving(tmp_path):
    # The same kind of plan, but full-batch gradient descent at a rate that fits the 32
    # examples: the loss falls by more than min_delta every epoch, so the first phase runs
    # until the end. A controller that ignored the loss would move on after `patience` epochs.
    plan = [
        PhaseConfig(trainable="all", learning_rate=0.05, epochs=10, until_plateau=True, patience=1, min_delta=1e-4),
        PhaseConfig(trainable="head", learning_rate=0.01),
    ]
    losses = []
    _, snaps, starts = _fit_with(plan, tmp_path, epochs=4, losses=losses, batch_size=32)
    assert all(b < a * (1 - 1e-4) for a, b in zip(losses, losses[1:])), losses
    assert starts == [0], "the loss improved every epoch: no plateau, no second phase"
    assert [lr for _, lr in snaps] == pytest.approx([0.05] * 4)
