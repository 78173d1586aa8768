"""train.init_from: a run starts from an earlier export's weights (small_cnn and MobileNetV2, one device and
MirroredStrategy), refuses a source of another shape with the reason, and records what it read."""

import json
import os

import numpy as np
import pytest
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, train
from robustkit.models import build_model
from robustkit.models.mobilenetv2 import MobileNetV2Config
from robustkit.models.small_cnn import SmallCNNConfig
from robustkit.sections import DistributeConfig
from robustkit.training import init_from
from robustkit.training.config import TrainJob
from robustkit.training.loop import build_trainer
from tests import helpers


def _saved(tmp_path, options, num_classes, channels, seed):
    """A model of ``options`` with seed ``seed``'s weights, saved as the training export saves it."""
    keras.utils.set_random_seed(seed)
    model = build_model(options, num_classes=num_classes, channels=channels)
    path = str(tmp_path / "source" / "1")
    model.save(path, save_format="tf")
    return path, model.get_weights()


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_the_trainer_starts_from_the_exported_weights_not_random_ones(tmp_path):
    path, want = _saved(tmp_path, SmallCNNConfig(dropout=0.1), 10, 1, seed=3)
    job = config_lib.load(TrainJob, None, ["model={name: small_cnn, dropout: 0.1}",
                                           f"train.init_from={tmp_path / 'source'}"])  # The model root.
    resolved, source = init_from.load_source(job.train.init_from)
    assert resolved == path
    keras.utils.set_random_seed(4)  # Without the copy, the weights would be this seed's.
    model, _ = build_trainer(job, num_classes=10, channels=1, initial=source)
    _assert_same(model.get_weights(), want)


@pytest.mark.parametrize("options", [SmallCNNConfig(dropout=0.1), MobileNetV2Config(input_size=32, alpha=0.35)],
                         ids=["small_cnn", "mobilenetv2"])
def test_every_replica_starts_from_the_exported_weights(tmp_path, options):
    path, want = _saved(tmp_path, options, 10, 1, seed=5)
    _, source = init_from.load_source(path)
    strategy = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
    keras.utils.set_random_seed(6)
    with strategy.scope():
        model = build_model(options, num_classes=10, channels=1)
        init_from.copy_weights(model, source, path)
    for variable, value in zip(model.weights, want):
        replicas = strategy.experimental_local_results(variable)
        assert len(replicas) == 2
        for replica in replicas:
            np.testing.assert_array_equal(replica.numpy(), value)


def test_a_source_of_another_shape_is_refused_naming_the_weight(tmp_path):
    path, _ = _saved(tmp_path, SmallCNNConfig(), 10, 1, seed=0)
    _, source = init_from.load_source(path)
    model = build_model(SmallCNNConfig(), num_classes=4, channels=1)
    with pytest.raises(init_from.InitFromError) as err:
        init_from.copy_weights(model, source, path)
    message = str(err.value)
    assert path in message and "(1568, 10)" in message and "(1568, 4)" in message
    other = build_model(MobileNetV2Config(input_size=32), num_classes=10, channels=1)
    with pytest.raises(init_from.InitFromError, match="weight tensors"):
        init_from.copy_weights(other, source, path)


def test_a_path_without_a_model_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="train.init_from"):
        init_from.load_source(str(tmp_path / "empty"))


def test_init_from_with_backbone_weights_is_refused(tmp_path):
    with pytest.raises(config_lib.ConfigError, match="model.weights"):
        config_lib.load(TrainJob, None, ["model={name: mobilenetv2, weights: imagenet}",
                                         f"train.init_from={tmp_path}"])


@pytest.mark.slow
def test_a_run_fine_tunes_from_an_export_and_records_it(tmp_path, capsys):
    data_dir = helpers.write_learnable_idx(tmp_path / "data")
    config = helpers.train_config(tmp_path, data_dir, train={"epochs": 2})
    assert train.main(["--config", config]) == 0
    first = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert first["val_accuracy"] > 0.9
    # One epoch at a learning rate too small to move anything: only the start decides the accuracy,
    # which a random start (0.25 on four classes) would not reach.
    source = str(tmp_path / "exports" / "m")
    assert train.main(["--config", config, "--set", f"train.init_from={source}", "--set", "train.epochs=1",
                       "--set", "train.learning_rate=1e-9", "--set", f"run.dir={tmp_path / 'tuned'}"]) == 0
    tuned = json.loads((tmp_path / "tuned" / "metrics.json").read_text())
    assert tuned["init_from"] == os.path.join(source, "1")
    assert tuned["val_accuracy"] == pytest.approx(first["val_accuracy"], abs=1e-6)
    assert "init_from: " + source in (tmp_path / "tuned" / "config.yaml").read_text()
    # A source of another input size is refused before training, with exit status 2.
    capsys.readouterr()
    assert train.main(["--config", config, "--set", f"train.init_from={source}", "--set", "model.input_size=32",
                       "--set", f"run.dir={tmp_path / 'bad'}"]) == 2
    assert source in capsys.readouterr().err
