"""Robust training methods end to end: robustness on a toy problem, the overfitting guard, replicas, the CLI."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import distribute, train
from robustkit.attacks.gradient import PgdConfig, pgd
from robustkit.sections import DistributeConfig
from robustkit.training import methods, schedules
from robustkit.training.adversarial_config import AdversarialConfig
from tests import helpers

EPS = 0.1


def _toy(n: int, seed: int):
    """Two classes with one robust pixel and 63 weak ones.

    Pixel 0 is 0.5 +- 0.3 on the label's side for 90% of the images (the
    robust separator ``x0 > 0.5``: 0.9 accurate at any L-inf eps below 0.3);
    the other pixels are 0.5 +- 0.05 on the label's side plus N(0, 0.1) noise,
    together nearly perfectly predictive, but each flipped by an eps of 0.1.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    side = 2.0 * y - 1.0
    robust = 0.5 + 0.3 * side * np.where(rng.random(n) < 0.9, 1.0, -1.0)
    weak = 0.5 + 0.05 * side[:, None] + rng.normal(0.0, 0.1, (n, 63))
    x = np.concatenate([robust[:, None], weak], axis=1).clip(0.0, 1.0).reshape(n, 8, 8, 1)
    return x.astype("float32"), y.astype("int64")


def _linear(seed=0):
    keras.utils.set_random_seed(seed)
    image = keras.Input((8, 8, 1), name="image")
    return keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(image)))


def _pgd_accuracy(model, x, y, eps=EPS):
    attack = pgd(PgdConfig(epsilons=[eps], iterations=20))
    adversarial = attack(model, tf.constant(x), tf.constant(y), epsilon=eps, seed=(0, 0))
    return float(np.mean(np.argmax(model(adversarial, training=False).numpy(), axis=1) == y))


@pytest.mark.slow
def test_each_method_is_robust_where_plain_training_is_not():
    x, y = _toy(512, 0)
    x_test, y_test = _toy(512, 1)
    results = {}
    for method in ("plain", "pgd", "trades", "fast"):
        base = _linear()
        trainer = base if method == "plain" else methods.RobustTrainer(
            base, AdversarialConfig(enabled=True, method=method, epsilon=EPS,
                                    iterations=None if method == "fast" else 5))
        trainer.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        trainer.fit({"image": x}, y, batch_size=64, epochs=10, verbose=0)
        clean = float(np.mean(np.argmax(base(x_test).numpy(), axis=1) == y_test))
        results[method] = (clean, _pgd_accuracy(base, x_test, y_test))
    assert results["plain"][0] > 0.85 and results["plain"][1] < 0.2, results
    for method in ("pgd", "trades", "fast"):
        assert results[method][1] > results["plain"][1] + 0.4, (method, results)
        assert results[method][1] > 0.75, (method, results)


@pytest.mark.slow
@pytest.mark.parametrize("method,extra", [
    ("pgd", {"iterations": 2, "clean_weight": 0.5}),
    ("trades", {"iterations": 2, "epsilon_warmup_epochs": 1}),
    ("fast", {"guard_examples": 32, "guard_iterations": 3}),
])
def test_cli_trains_exports_and_reports_each_method(tmp_path, capsys, method, extra):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    precision = "mixed_bfloat16" if method == "trades" else "float32"
    schedule = {"name": "cyclic"} if method == "fast" else {"name": "constant"}
    config = helpers.train_config(
        tmp_path, data_dir, train={"epochs": 2, "steps_per_epoch": 3, "precision": precision, "schedule": schedule},
        adversarial={"enabled": True, "method": method, "epsilon": 0.1, **extra})
    assert train.main(["--config", config]) == 0
    exported = capsys.readouterr().out.strip().splitlines()[-1].split(": ", 1)[1]
    run = tmp_path / "run"
    assert f"method: {method}" in (run / "config.yaml").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["adversarial_method"] == method and metrics["adversarial_epsilon"] == 0.1
    assert 0.0 <= metrics["train_adversarial_accuracy"] <= 1.0
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) == 2 and "adversarial_accuracy" in rows[0] and "val_adversarial_accuracy" not in rows[0]
    if method == "fast":
        assert metrics["overfit_guard"]["examples"] == 32 and len(metrics["overfit_guard"]["pgd_accuracy"]) == 2
        assert "guard_pgd_accuracy" in rows[0]
        # One cycle over 6 steps: the rate after the last step's is back near 0.
        assert float(rows[-1]["learning_rate"]) < float(rows[0]["learning_rate"])
    loaded = tf.saved_model.load(exported)
    out = loaded.signatures["serve_float"](image=tf.zeros([2, 28, 28, 1]))
    assert out["probabilities"].dtype == tf.float32, "the base classifier is exported, not the trainer"


class _ForgetRobustness(keras.callbacks.Callback):
    """Replaces the weights by a non-robust solution after ``epoch``, as a collapse does."""

    def __init__(self, base, weights, epoch):
        super().__init__()
        self.base, self.weights, self.epoch = base, weights, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.base.set_weights(self.weights)


@pytest.mark.slow
def test_the_guard_rolls_back_and_stops_when_pgd_accuracy_collapses(caplog):
    x, y = _toy(256, 0)
    plain = _linear(1)
    plain.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit({"image": x}, y, batch_size=64, epochs=8, verbose=0)
    assert _pgd_accuracy(plain, x, y) < 0.2, "the plain solution is not robust"

    base = _linear()
    options = AdversarialConfig(enabled=True, method="fast", epsilon=EPS, guard_examples=128, guard_iterations=5)
    trainer = methods.RobustTrainer(base, options)
    trainer.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    guard = schedules.OverfitGuard(base, x[:128], y[:128], options)
    best = {}

    class KeepBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == guard.best_epoch:
                best["weights"] = base.get_weights()

    history = trainer.fit({"image": x}, y, batch_size=64, epochs=8, verbose=0,
                          callbacks=[_ForgetRobustness(base, plain.get_weights(), 3), guard, KeepBest()]).history
    assert len(history["loss"]) == 4, "training stopped after the collapse at epoch 4"
    summary = guard.summary()
    assert summary["collapsed"] and summary["rolled_back_and_stopped_after_epoch"] == 4
    assert summary["best_pgd_accuracy"] > 0.4 and summary["pgd_accuracy"][-1] < 0.2, summary
    assert guard.pgd_accuracy() == pytest.approx(summary["best_pgd_accuracy"]), "the best weights are back"
    for now, kept in zip(base.get_weights(), best["weights"]):
        np.testing.assert_array_equal(now, kept)
    assert "catastrophic overfitting caught" in caplog.text and "rolled back" in caplog.text


def _two_layer(seed):
    keras.utils.set_random_seed(seed)
    image = keras.Input((8, 8, 1), name="image")
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(image))
    return keras.Model(image, keras.layers.Dense(2)(hidden))


def _fit_under(strategy, x, y):
    with strategy.scope():
        base = _two_layer(4)
        options = AdversarialConfig(enabled=True, method="pgd", epsilon=EPS, iterations=3, random_start=False,
                                    clean_weight=0.5)
        trainer = methods.wrap(base, options)
        trainer.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    data = tf.data.Dataset.from_tensor_slices(({"image": x}, y)).batch(32)
    history = trainer.fit(data, epochs=3, verbose=0).history
    return history, base.get_weights()


@pytest.mark.slow
def test_one_replica_and_two_mirrored_replicas_train_alike():
    x, y = _toy(128, 2)
    one, one_weights = _fit_under(tf.distribute.get_strategy(), x, y)
    # Through robustkit's factory: a bare MirroredStrategy would reuse an earlier one's collective keys.
    mirrored = distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"]))
    two, two_weights = _fit_under(mirrored, x, y)
    for key in ("loss", "accuracy", "adversarial_accuracy"):
        np.testing.assert_allclose(one[key], two[key], rtol=1e-5, atol=1e-6)
    assert one["loss"][-1] < one["loss"][0], "it trains"
    for a, b in zip(one_weights, two_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_killed_robust_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    undo = helpers.crash_after_epoch(monkeypatch, 1)
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    config = helpers.train_config(tmp_path, data_dir, train={"epochs": 4, "steps_per_epoch": 2},
                                  adversarial={"enabled": True, "method": "trades", "epsilon": 0.1, "iterations": 2,
                                               "epsilon_warmup_epochs": 2})
    with pytest.raises(helpers.Crash):
        train.main(["--config", config])
    assert (tmp_path / "run" / "backup").is_dir()
    undo()
    assert train.main(["--config", config]) == 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"], "the rerun continues at epoch 2"
    assert os.path.isfile(tmp_path / "run" / "metrics.json")


@pytest.mark.slow
def test_two_workers_train_trades_and_validate_what_they_export(tmp_path):
    from tests import cluster

    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    config = helpers.train_config(tmp_path, data_dir, train={"epochs": 1, "steps_per_epoch": 3, "batch_size": 16},
                                  adversarial={"enabled": True, "method": "trades", "epsilon": 0.1, "iterations": 2})
    for code, _, err in cluster.wait_pair(cluster.start_pair(config, tmp_path), timeout=420):
        assert code == 0, err[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["adversarial_method"] == "trades"
    # The validation logs are the workers' synchronised metrics, not their sum.
    x, y = helpers.learnable_images(32, 4, seed=1)
    loaded = tf.saved_model.load(str(tmp_path / "exports" / "m" / "1"))
    probabilities = loaded.signatures["serve_float"](image=tf.constant(x[..., None] / 255.0, tf.float32))
    accuracy = float(np.mean(np.argmax(probabilities["probabilities"].numpy(), axis=1) == y))
    assert metrics["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
