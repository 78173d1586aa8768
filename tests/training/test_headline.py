"""The headline Tiny-ImageNet config, scaled down but with its mixed_bfloat16 and plateau phases."""

import csv
import json
import os

import pytest

from robustkit import train
from robustkit.data import synthetic
from tests import helpers


@pytest.mark.slow
def test_headline_config_keeps_bfloat16_and_moves_through_its_plateau_phases(tmp_path):
    root = tmp_path / "tiny-imagenet-200"
    synthetic.write_tiny_imagenet(str(root), num_classes=4, images_per_class=16, val_per_class=4, test_images=2)
    # Phase 1 may run 3 epochs but moves on at its first plateau: with min_delta 0.99 (a 99 % relative
    # improvement) no epoch after the first counts as improving, so with patience 1 it ends after its second.
    phases = ("[{trainable: head, learning_rate: 0.01, epochs: 3, until_plateau: true, patience: 1, min_delta: 0.99},"
              " {trainable: 'top:5', learning_rate: 0.001, epochs: 1, until_plateau: true, patience: 2},"
              " {trainable: all, learning_rate: 0.0001}]")
    args = [
        "--config", os.path.join(helpers.ROOT, "configs", "tiny_imagenet_mobilenetv2_nsl.yaml"),
        "--set", f"data.dir={root}", "--set", "model.weights=none", "--set", "model.input_size=32",
        "--set", "model.alpha=0.35", "--set", "train.epochs=5", "--set", "train.batch_size=16",
        "--set", f"run.dir={tmp_path / 'run'}", "--set", f"export.dir={tmp_path / 'exports'}",
        "--set", "train.tensorboard=false", "--set", f"train.phases={phases}",
    ]
    assert train.main(args) == 0
    resolved = (tmp_path / "run" / "config.yaml").read_text()
    assert "precision: mixed_bfloat16" in resolved and "until_plateau: true" in resolved
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["precision"] == "mixed_bfloat16" and metrics["adversarial"] is True
    assert metrics["phase_starts"] == [0, 2, 3]  # Phase 1 ended early, phase 2 ran its one epoch.
    with open(tmp_path / "run" / "history.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rates = [float(row["lr"]) for row in rows]
    assert rates == pytest.approx([0.01, 0.01, 0.001, 0.0001, 0.0001], rel=1e-5)  # Each phase starts at its own rate.
    export = tmp_path / "exports" / "tiny_imagenet_mobilenetv2_nsl" / "1"
    wnids = (root / "wnids.txt").read_text().split()
    assert (export / "assets" / "class_ids.txt").read_text().split() == sorted(wnids)
