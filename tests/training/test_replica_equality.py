"""One replica and two mirrored replicas train the same model alike, through `run_training`.

With dropout 0, SGD, a seeded shuffle and no augmentation, a global batch split
over two replicas gives the same mean loss and summed gradient as on one device:
the loss curve and the trained weights agree to float rounding. (A model with
BatchNorm is not compared this way: each replica normalises by its own half
batch, so its curve differs by design; `test_distributed` checks that its moving
statistics are exported as the replicas' mean.)
"""

import csv

import numpy as np
import pytest

from robustkit import config as config_lib
from robustkit.training.config import TrainJob
from robustkit.training.loop import run_training
from tests import helpers

STRATEGIES = {"default": ["distribute.strategy=default"],
              "mirrored": ["distribute.strategy=mirrored", 'distribute.devices=["/cpu:0","/cpu:1"]']}


def _train(tmp_path, name, strategy, adversarial):
    data_dir = tmp_path / "data"
    if not data_dir.exists():
        helpers.write_learnable_idx(data_dir, train=128, test=32)
    base = tmp_path / name / strategy
    base.mkdir(parents=True)
    path = helpers.train_config(
        base, str(data_dir), model={"name": "small_cnn", "input_size": 28, "dropout": 0.0},
        train={"epochs": 3, "steps_per_epoch": 4, "batch_size": 16, "optimizer": "sgd", "momentum": 0.9,
               "learning_rate": 0.05, "checkpoint": False}, adversarial=adversarial,
    )
    result = run_training(config_lib.load(TrainJob, path, STRATEGIES[strategy]))
    with open(base / "run" / "history.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return result, rows, result.model.get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("adversarial", [{"enabled": False}, {"enabled": True, "step_size": 0.05}],
                         ids=["plain", "nsl"])
def test_default_and_two_mirrored_replicas_give_the_same_curve_and_weights(tmp_path, adversarial):
    one, one_rows, one_weights = _train(tmp_path, "a", "default", adversarial)
    two, two_rows, two_weights = _train(tmp_path, "a", "mirrored", adversarial)
    assert one.metrics["replicas"] == 1 and two.metrics["replicas"] == 2
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([float(r[key]) for r in one_rows], [float(r[key]) for r in two_rows],
                                   rtol=2e-4, atol=1e-5, err_msg=key)
    assert float(one_rows[-1]["loss"]) < float(one_rows[0]["loss"]), "it trains"
    for a, b in zip(one_weights, two_weights):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
