"""Strategies: the factory, MirroredStrategy on two virtual CPUs, two real workers."""

import json
import os

import pytest
import tensorflow as tf

from robustkit import distribute
from robustkit.distribute import DistributeError
from robustkit.sections import DistributeConfig
from tests import cluster, helpers


def test_default_and_one_device():
    assert distribute.make_strategy(DistributeConfig(strategy="default")) is tf.distribute.get_strategy()
    auto = distribute.make_strategy(DistributeConfig(strategy="auto"))
    gpus = len(tf.config.list_physical_devices("GPU"))
    # auto mirrors over the GPUs when there are several, else it is the default strategy.
    assert auto.num_replicas_in_sync == (gpus if gpus > 1 else 1)
    assert isinstance(auto, tf.distribute.MirroredStrategy) == (gpus > 1)
    one = distribute.make_strategy(DistributeConfig(strategy="one_device", device="/cpu:1"))
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert distribute.is_chief(one)


def test_mirrored_over_two_virtual_cpus():
    strategy = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
    assert strategy.num_replicas_in_sync == 2
    assert distribute.is_chief(strategy)


def test_models_of_different_sizes_train_one_after_another_under_mirrored():
    """A second MirroredStrategy in the same process must not reuse the first one's collective keys."""
    import numpy as np
    import tf_keras as keras

    x = np.random.default_rng(0).random((16, 6)).astype(np.float32)
    y = (x.sum(axis=1) > 3).astype(np.int64)
    for width in (3, 11):
        strategy = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
        with strategy.scope():
            model = keras.Sequential([keras.layers.Dense(width, activation="relu", input_shape=(6,)),
                                      keras.layers.Dense(2)])
            model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][0])


def test_multi_worker_without_cluster_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributeError, match="needs the TF_CONFIG environment variable"):
        distribute.make_strategy(DistributeConfig(strategy="multi_worker"))
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(DistributeError, match="TF_CONFIG is not valid JSON"):
        distribute.make_strategy(DistributeConfig(strategy="multi_worker"))


def test_slurm_outside_slurm_is_a_clear_error(monkeypatch):
    for key in list(os.environ):
        if key.startswith("SLURM_"):
            monkeypatch.delenv(key)
    with pytest.raises(DistributeError, match="Slurm's environment could not be read"):
        distribute.make_strategy(DistributeConfig(strategy="multi_worker", cluster="slurm"))


@pytest.mark.slow
def test_mirrored_training_run(tmp_path):
    from robustkit import config as config_lib
    from robustkit.training.config import TrainJob
    from robustkit.training.loop import run_training

    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    path = helpers.train_config(
        tmp_path, data_dir, train={"epochs": 1, "steps_per_epoch": 3},
        distribute={"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]},
    )
    result = run_training(config_lib.load(TrainJob, path))
    assert result.metrics["replicas"] == 2
    assert result.metrics["strategy_class"] == "MirroredStrategy"
    assert os.path.isfile(os.path.join(result.export_path, "saved_model.pb"))


@pytest.mark.slow
def test_two_workers_on_localhost_train(tmp_path):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    config = helpers.train_config(
        tmp_path, data_dir, train={"epochs": 2, "steps_per_epoch": 3, "batch_size": 16},
    )
    results = cluster.wait_pair(cluster.start_pair(config, tmp_path), timeout=420)
    for code, out, err in results:
        assert code == 0, err[-3000:]
    chief_out = results[0][1].strip().splitlines()
    assert chief_out[-1] == f"exported: {tmp_path / 'exports' / 'm' / '1'}"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["strategy"] == "multi_worker"
    # Only the chief exported: one version, complete.
    assert os.listdir(tmp_path / "exports" / "m") == ["1"]
    assert os.path.isfile(tmp_path / "exports" / "m" / "1" / "saved_model.pb")
