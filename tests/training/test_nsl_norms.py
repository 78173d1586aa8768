"""NSL adversarial regularisation in real training runs: each norm, and PGD iterations."""

import json

import pytest

from robustkit import train
from tests import helpers


def _run(tmp_path, name, adversarial):
    data_dir = tmp_path / "data"
    if not data_dir.exists():
        helpers.write_learnable_idx(data_dir, train=64, test=16)
    base = tmp_path / name
    base.mkdir()
    config = helpers.train_config(
        base, str(data_dir), model={"name": "small_cnn", "input_size": 28, "dropout": 0.0},
        train={"epochs": 1, "steps_per_epoch": 2, "batch_size": 32, "optimizer": "sgd", "learning_rate": 1e-6,
               "checkpoint": False},
        adversarial={"enabled": True, "multiplier": 1.0, **adversarial},
    )
    assert train.main(["--config", config]) == 0
    return json.loads((base / "run" / "metrics.json").read_text())


@pytest.mark.slow
def test_each_norm_and_pgd_iterations_change_what_the_model_is_trained_against(tmp_path):
    """Same weights (same seed, a learning rate too small to move them), other neighbours.

    An L-inf step of 0.3 moves every pixel by 0.3; an L2 step of 0.3 moves the whole
    784-pixel image by 0.3, and an L1 step of 0.3 moves one pixel's worth: the
    adversarial loss must fall in that order, and PGD (3 steps of 0.1 within 0.3)
    must differ from the single step.
    """
    linf = _run(tmp_path, "linf", {"norm": "linf", "step_size": 0.3})
    l2 = _run(tmp_path, "l2", {"norm": "l2", "step_size": 0.3})
    l1 = _run(tmp_path, "l1", {"norm": "l1", "step_size": 0.3})
    pgd = _run(tmp_path, "pgd", {"norm": "linf", "step_size": 0.1, "pgd_iterations": 3, "pgd_epsilon": 0.3})
    losses = {k: m["train_scaled_adversarial_loss"] for k, m in
              {"linf": linf, "l2": l2, "l1": l1, "pgd": pgd}.items()}
    clean = linf["train_loss"]
    assert abs(l2["train_loss"] - clean) < 1e-3 and abs(l1["train_loss"] - clean) < 1e-3  # Same model.
    assert losses["linf"] > losses["l2"] > losses["l1"] > 0, losses
    assert abs(losses["l1"] - clean) < 0.05 * clean, "an L1 step of 0.3 barely changes the image"
    assert abs(losses["pgd"] - losses["linf"]) > 1e-3, losses
    assert pgd["adversarial_epsilon"] == 0.3 and l2["adversarial_epsilon"] == 0.3
