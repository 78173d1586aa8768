"""Classifiers trained under tf.distribute strategies export what they learned.

MirroredStrategy on two logical CPUs (in this process, and in a fresh one that
has to make them), and MultiWorkerMirroredStrategy as two local processes,
one of them killed mid-run; every export is loaded in a process that imports
only TensorFlow and must give the logits of the trained weights read outside
the strategy (BatchNorm's moving statistics averaged over the replicas).
"""

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from robustkit import config as config_lib
from robustkit.models import build_model
from robustkit.training.config import TrainJob
from robustkit.training.loop import run_training
from tests import cluster, helpers

MODELS = {
    "small_cnn": {"name": "small_cnn", "input_size": 28, "dropout": 0.0},
    "mobilenetv2": {"name": "mobilenetv2", "input_size": 32, "alpha": 0.35, "dropout": 0.0, "bn_momentum": 0.5},
}
METHODS = {"plain": {"enabled": False}, "nsl": {"enabled": True, "multiplier": 0.2, "step_size": 0.05}}

_LOAD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    assert "tf_keras" not in sys.modules and "robustkit" not in sys.modules
    loaded = tf.saved_model.load(sys.argv[1])
    images = np.load(sys.argv[2])
    out = loaded.signatures["serve_float"](image=tf.constant(images))
    uint8 = loaded.signatures["serving_default"](image=tf.constant(np.round(images * 255).astype(np.uint8)))
    np.testing.assert_array_equal(out["class_id"].numpy(), out["logits"].numpy().argmax(-1))
    np.save(sys.argv[3], np.stack([out["logits"].numpy(), uint8["logits"].numpy()]))
    """
)


def _config(tmp_path, model: str, method: str, **train) -> str:
    data_dir = tmp_path / "data"
    if not data_dir.exists():
        helpers.write_learnable_idx(data_dir, train=128, test=32)
    return helpers.train_config(
        tmp_path, str(data_dir), model=MODELS[model], adversarial=METHODS[method],
        train={"epochs": 2, "steps_per_epoch": 2, "validation_steps": 1, "batch_size": 16, "optimizer": "sgd",
               "learning_rate": 0.05, "checkpoint": False, **train},
        data={"eval_limit": 16},
        distribute={"stall_timeout": 600},
    )


def _probe(size: int) -> np.ndarray:
    """Images on the 4-quadrant task: a bright block in quadrant i, noise elsewhere."""
    rng = np.random.default_rng(5)
    images = rng.uniform(0.0, 0.25, size=(8, size, size, 1)).astype(np.float32)
    half = size // 2
    for i in range(8):
        r, c = divmod(i % 4, 2)
        images[i, r * half:(r + 1) * half, c * half:(c + 1) * half] = 0.9
    return images


def _served_logits(tmp_path, export: str, images: np.ndarray) -> np.ndarray:
    """[serve_float logits, serving_default logits] of ``export`` loaded in a TensorFlow-only process."""
    script, data, out = tmp_path / "load.py", tmp_path / "probe.npy", tmp_path / "served.npy"
    script.write_text(_LOAD)
    np.save(data, images)
    env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(script), export, str(data), str(out)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(out)


def _assert_served_like(served: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(served[0], expected, rtol=1e-4, atol=1e-4)
    # serving_default sees the images rounded to uint8; the class must agree where the margin is clear.
    np.testing.assert_allclose(served[1], expected, atol=0.05 * (1 + np.abs(expected).max()))


@pytest.mark.slow
def test_mirrored_nsl_mobilenetv2_exports_the_trained_weights_with_averaged_batchnorm_statistics(tmp_path):
    """The headline model inside NSL's wrapper; plain MobileNetV2 runs under two workers below."""
    config = _config(tmp_path, "mobilenetv2", "nsl")
    config = config_lib.load(TrainJob, config,
                             ["distribute.strategy=mirrored", 'distribute.devices=["/cpu:0","/cpu:1"]'])
    result = run_training(config)
    assert result.metrics["replicas"] == 2 and result.metrics["strategy_class"] == "MirroredStrategy"
    model = result.model
    moving = [v for v in model.variables if "moving_mean" in v.name]
    assert moving and all(len(v.values) == 2 for v in moving), "BatchNorm statistics are sync-on-read, per replica"
    replicas = np.stack([component.numpy() for component in moving[0].values])
    assert np.abs(replicas[0] - replicas[1]).max() > 0, "each replica saw other images, so other statistics"

    # The same weights outside the strategy: BatchNorm statistics are the replicas' mean.
    classes = model.output_shape[-1]
    plain = build_model(config.model, num_classes=classes, channels=1)
    plain.set_weights(model.get_weights())
    index = next(i for i, w in enumerate(model.weights) if w is moving[0])
    np.testing.assert_allclose(plain.weights[index].numpy(), replicas.mean(axis=0), rtol=1e-5, atol=1e-6)
    images = tf.image.resize(_probe(28), [32, 32]).numpy()
    expected = plain(images, training=False).numpy()
    untrained = build_model(config.model, num_classes=classes, channels=1)(images, training=False).numpy()
    assert np.abs(expected - untrained).max() > 1e-2, "training must have changed the logits"

    assert os.listdir(tmp_path / "exports" / "m") == ["1"]
    _assert_served_like(_served_logits(tmp_path, result.export_path, images), expected)


@pytest.mark.slow
def test_mirrored_over_logical_cpus_in_a_fresh_process_makes_them_and_exports(tmp_path):
    """A new process has one CPU device; naming two must make two, not wait forever for the second."""
    config = _config(tmp_path, "small_cnn", "nsl")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=helpers.ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "robustkit.train", "--config", config, "--set", "distribute.strategy=mirrored",
         "--set", 'distribute.devices=["/cpu:0","/cpu:1"]', "--set", "distribute.stall_timeout=300"],
        env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "split the CPU into 2 logical devices" in proc.stderr
    assert "export checked" in proc.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["strategy_class"] == "MirroredStrategy"
    served = _served_logits(tmp_path, proc.stdout.strip().splitlines()[-1].split("exported: ")[1], _probe(28))
    assert (served[0].argmax(-1) == np.arange(8) % 4).mean() >= 0.5  # It learned something of the quadrants.


def _epochs(history_csv) -> list:
    """The epochs history.csv records (none while it is being started)."""
    try:
        with open(history_csv, encoding="utf-8") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f)]
    except (OSError, KeyError, TypeError, ValueError):
        return []


def _epoch_lines(stdout: str) -> int:
    """Epochs a run trained itself: Keras prints one ``steps/steps - ...s - loss: ...`` line each."""
    return sum(1 for line in stdout.splitlines() if re.match(r"^\d+/\d+ - .*loss: ", line))


@pytest.mark.slow
def test_two_workers_train_mobilenetv2_and_the_chief_exports_it_once(tmp_path):
    config = _config(tmp_path, "mobilenetv2", "plain")
    results = cluster.wait_pair(cluster.start_pair(config, tmp_path), timeout=600)
    for code, out, err in results:
        assert code == 0, err[-3000:]
    chief_out, chief_err = results[0][1], results[0][2]
    assert "export checked" in chief_err  # The serving graph gives the averaged weights' logits.
    export = chief_out.strip().splitlines()[-1].split("exported: ")[1]
    assert os.listdir(tmp_path / "exports" / "m") == ["1"]
    assert results[1][1].strip().splitlines()[-1] == "exported: nothing (this worker is not the chief)"
    served = _served_logits(tmp_path, export, tf.image.resize(_probe(28), [32, 32]).numpy())
    np.testing.assert_allclose(served[1], served[0], atol=0.05 * (1 + np.abs(served[0]).max()))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["strategy_class"] == "CollectiveAllReduceStrategy"


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_resumed_and_the_pair_exports_exactly_one_version(tmp_path):
    config = _config(tmp_path, "small_cnn", "nsl", epochs=4, steps_per_epoch=6)
    history = tmp_path / "run" / "history.csv"
    procs = cluster.start_pair(config, tmp_path)
    deadline = time.monotonic() + 300
    while not _epochs(history) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "a worker ended before the first epoch"
        time.sleep(0.2)
    cluster.kill(procs[1])
    (code0, _, err0), (code1, _, _) = cluster.wait_pair(procs, timeout=240)
    assert code1 == -9
    # The chief, left alone in an all-reduce, stops after the stall timeout instead of hanging.
    assert code0 == 3, err0[-3000:]  # It must not finish, nor hang, without its peer.
    assert "stopped answering" in err0 or "made no progress" in err0
    assert not (tmp_path / "exports" / "m").exists() or os.listdir(tmp_path / "exports" / "m") == []
    done = _epochs(history)
    assert 1 <= len(done) < 4

    results = cluster.wait_pair(cluster.start_pair(config, tmp_path), timeout=400)
    for code, out, err in results:
        assert code == 0, err[-3000:]
    epochs = _epochs(history)
    assert sorted(set(epochs)) == [0, 1, 2, 3] and epochs[:len(done)] == done
    # It went on from the last completed epoch instead of starting again.
    assert "resuming" in results[0][2] and _epoch_lines(results[0][1]) == 4 - len(done)
    assert os.listdir(tmp_path / "exports" / "m") == ["1"]
    assert os.path.isfile(tmp_path / "exports" / "m" / "1" / "saved_model.pb")
