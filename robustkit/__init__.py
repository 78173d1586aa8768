"""robustkit: train and test image classifiers that hold up under perturbations.

Importing robustkit starts no TensorFlow: the functions below load their
modules on first use (`robustkit.api`).

    import robustkit
    result = robustkit.train("configs/quickstart_base.yaml", train={"epochs": 1})
    model = robustkit.load_model(result.export_path)
    adversarial = robustkit.attacks.pgd(model, images, labels, epsilon=0.1)
    results = robustkit.evaluate({"base": model}, images, labels, attacks=["pgd", "autoattack"])
"""

import importlib
from typing import Any

from robustkit import tf_setup

tf_setup.configure()

__version__ = "0.1.0"

_API = ("evaluate", "load_examples", "load_model", "load_perturbation_set")
# Modules reachable as attributes; ``robustkit.train`` and ``robustkit.explain`` are also callable
# (`robustkit.callable_module`).
_SUBPACKAGES = ("attacks", "data", "evaluation", "explain", "generative", "models", "separation", "testgen", "train",
                "training")


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("robustkit.api"), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"robustkit.{name}")
    raise AttributeError(f"module 'robustkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API, *_SUBPACKAGES])


__all__ = ["__version__", "explain", "train", *_API]
