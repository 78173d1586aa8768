"""Catastrophic overfitting as it happens, on the real Fashion-MNIST: the fast method's guard catches it."""

import glob
import json
import os

import pytest

import robustkit
from tests import helpers
from tests.separation import reference


@pytest.mark.slow
def test_fast_training_without_random_start_at_a_large_step_is_caught(tmp_path, caplog):
    # FGSM training without a random start at a large radius (Wong, Rice & Kolter 2020, section 4): the
    # model learns to defeat the single step while PGD keeps almost every example; here from the first epochs.
    data_dir = reference.fashion_mnist_dir()
    if not glob.glob(os.path.join(data_dir, "train-images-idx3-ubyte*")):
        pytest.skip(f"the offline Fashion-MNIST ({data_dir}: $FASHION_MNIST_DIR or Debian's dataset-fashion-mnist) "
                    "is not installed")
    result = robustkit.train(
        os.path.join(helpers.ROOT, "configs", "fashion_mnist_small_cnn_fast.yaml"),
        run={"dir": str(tmp_path / "run"), "seed": 0},
        data={"dir": data_dir, "train_limit": 5000, "eval_limit": 500},
        train={"epochs": 6, "schedule": None, "learning_rate": 0.002, "tensorboard": False},
        adversarial={"epsilon": 0.3, "step_size": 0.45, "random_start": False, "guard_examples": 256},
        export={"dir": str(tmp_path / "exports")},
    )
    guard = result.metrics["overfit_guard"]
    assert guard["collapsed"], guard
    stopped = guard["rolled_back_and_stopped_after_epoch"]
    assert stopped < 6, "training stopped at the collapse, before its last epoch"
    last_own, last_pgd = guard["train_attack_accuracy"][-1], guard["pgd_accuracy"][-1]
    assert last_own - last_pgd > 0.3 and last_pgd < 0.1, guard
    with open(tmp_path / "run" / "metrics.json") as f:
        assert json.load(f)["overfit_guard"]["reason"] == guard["reason"]
    assert "catastrophic overfitting caught" in caplog.text and "training attack" in caplog.text
