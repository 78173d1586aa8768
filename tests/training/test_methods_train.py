"""Robust training methods end to end: robustness on a toy problem, the overfitting guard, replicas, the CLI."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import train
from robustkit.attacks.gradient import PgdConfig, pgd
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
