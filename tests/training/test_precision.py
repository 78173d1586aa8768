"""``train.precision``: the policy is applied to the model that trains, and recorded."""

import json

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import train
from robustkit.models import build_model
from robustkit.models.small_cnn import SmallCNNConfig
from robustkit.training import loop
from tests import helpers


def test_mixed_bfloat16_is_applied_recorded_and_restored(tmp_path, monkeypatch):
    built = []
    build = loop.build_trainer
    monkeypatch.setattr(loop, "build_trainer", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=64, test=32)
    config = helpers.train_config(
        tmp_path, data_dir, model={"dropout": 0.0},
        train={"epochs": 1, "steps_per_epoch": 2, "batch_size": 32, "precision": "mixed_bfloat16",
               "checkpoint": False},
    )
    assert train.main(["--config", config]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["precision"] == "mixed_bfloat16"
    model = built[0][0]
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("conv1").kernel.dtype == tf.float32, "variables stay float32"
    assert keras.mixed_precision.global_policy().name == "float32", "the run restores the global policy"

    # The export computes in bfloat16: its logits differ from a float32 twin's with the
    # same weights by bfloat16 rounding (8 bits of mantissa), not by float32 rounding.
    twin = build_model(SmallCNNConfig(dropout=0.0), num_classes=model.output_shape[-1], channels=1)
    twin.set_weights(model.get_weights())
    images = tf.constant(np.random.default_rng(0).uniform(size=(8, 28, 28, 1)), tf.float32)
    exported = tf.saved_model.load(str(tmp_path / "exports" / "m" / "1"))
    logits = exported.signatures["serve_float"](image=images)["logits"].numpy()
    reference = twin(images, training=False).numpy()
    difference = np.abs(logits - reference).max()
    assert 1e-4 < difference < 0.5, difference
    assert not (tmp_path / "run" / "checkpoints").exists(), "train.checkpoint: false keeps no checkpoint"


def test_float32_run_records_float32_and_checkpoints_the_best_weights(tmp_path):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=64, test=32)
    config = helpers.train_config(tmp_path, data_dir, model={"dropout": 0.0},
                                  train={"epochs": 1, "steps_per_epoch": 1})
    assert train.main(["--config", config]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["precision"] == "float32"
    # train.checkpoint (the default): the best epoch's weights; with one epoch, the exported ones.
    twin = build_model(SmallCNNConfig(dropout=0.0), num_classes=10, channels=1)
    twin.load_weights(str(tmp_path / "run" / "checkpoints" / "best")).expect_partial()
    images = tf.constant(np.random.default_rng(1).uniform(size=(4, 28, 28, 1)), tf.float32)
    exported = tf.saved_model.load(str(tmp_path / "exports" / "m" / "1"))
    np.testing.assert_allclose(exported.signatures["serve_float"](image=images)["logits"].numpy(),
                               twin(images, training=False).numpy(), atol=1e-5)
