"""Small real-format datasets the training tests share."""

import os

import numpy as np

from robustkit.data import synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def learnable_images(n: int, num_classes: int = 4, size: int = 28, seed: int = 0):
    """Images whose class is the quadrant holding a bright block, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    images = rng.integers(0, 60, size=(n, size, size), dtype=np.uint8)
    half = size // 2
    for i, label in enumerate(labels):
        r, c = divmod(int(label) % 4, 2)
        images[i, r * half:(r + 1) * half, c * half:(c + 1) * half] = 230
    return images, labels.astype(np.uint8)


def write_learnable_idx(directory, train: int = 256, test: int = 64, num_classes: int = 4) -> str:
    """Writes the four IDX files of a learnable dataset into ``directory``."""
    x, y = learnable_images(train, num_classes, seed=0)
    synthetic.write_idx(str(directory), x, y, prefix="train")
    x, y = learnable_images(test, num_classes, seed=1)
    synthetic.write_idx(str(directory), x, y, prefix="t10k")
    return str(directory)


def train_config(tmp_path, data_dir: str, **sections) -> str:
    """Writes a tiny small_cnn config under ``tmp_path`` and returns its path."""
    import yaml

    config = {
        "run": {"name": "t", "dir": str(tmp_path / "run"), "seed": 1},
        "data": {"name": "mnist", "dir": data_dir},
        "model": {"name": "small_cnn", "input_size": 28, "dropout": 0.1},
        "train": {"epochs": 2, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003,
                  "tensorboard": False, "progress": False},
        "export": {"dir": str(tmp_path / "exports"), "name": "m"},
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    path = tmp_path / "config.yaml"
    path.write_text("# python -m robustkit.train --config config.yaml\n" + yaml.safe_dump(config))
    return str(path)


class Crash(Exception):
    """A training run stopped on purpose, as if killed."""


def crash_after_epoch(monkeypatch, epoch: int):
    """Makes every training run raise `Crash` at the end of ``epoch`` (0-based); returns the undo."""
    import tf_keras as keras

    from robustkit.training import callbacks as callbacks_lib

    class CrashAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, done, logs=None):
            if done == epoch:
                raise Crash("killed")

    make = callbacks_lib.make_callbacks
    monkeypatch.setattr(callbacks_lib, "make_callbacks", lambda *a: make(*a) + [CrashAfterEpoch()])
    return lambda: monkeypatch.setattr(callbacks_lib, "make_callbacks", make)
