"""Attacks as plain functions: arrays in, adversarial arrays out.

    import robustkit.attacks as rka
    adversarial = rka.pgd(model, images, labels, epsilon=0.1, norm="linf", iterations=10)
    adversarial = rka.autoattack(model, images, labels, epsilon=0.1)
    adversarial = rka.attack("square", model, images, labels, epsilon=0.1, queries=1000)

``model`` is a Keras model, any callable that maps float images in [0, 1] to
logits, a `robustkit.models.loading.Model`, or the path of a SavedModel or
Keras file (loaded as ``python -m robustkit.validate_adv`` loads it). The
keyword options are the keys of the attack's config block (`ATTACKS`), checked
as a config file's are, so a misspelt or out-of-range option fails with the
same message. ``images`` are float [N, H, W, C] in [0, 1]; they are attacked
in batches of ``batch_size``, batch ``i`` with the seed ``(seed, i)`` that
``validate_adv`` uses, and returned as a float32 NumPy array.
"""

import os
from typing import Any

import numpy as np

from robustkit import config as config_lib
from robustkit.attacks.registry import ATTACKS
from robustkit.models import loading


def as_arrays(images: Any, labels: Any):
    """``images`` and ``labels`` checked and cast: float32 [N, H, W, C] in [0, 1] and int64 [N]."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 4 or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be a float array [N, height, width, channels] in [0, 1], got dtype "
                         f"{images.dtype} and shape {images.shape}")
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"images must lie in [0, 1], got values in [{images.min():g}, {images.max():g}]; "
                         "divide uint8 pixels by 255")
    if labels.shape != images.shape[:1] or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class ids, one per image ({images.shape[0]}), got dtype "
                         f"{labels.dtype} and shape {labels.shape}")
    return images.astype(np.float32), labels.astype(np.int64)


def as_model(model: Any, images: np.ndarray, labels: np.ndarray, name: str = "model") -> Any:
    """A path becomes a loaded, calibrated `Model`; anything else is returned as it is."""
    if isinstance(model, (str, os.PathLike)):
        loaded = loading.load_model(name, os.fspath(model))
        loaded.calibrate(images[:loading.PROBE_EXAMPLES], labels[:loading.PROBE_EXAMPLES])
        return loaded
    if not callable(model):
        raise TypeError(f"model must be a Keras model, a callable returning logits or a model path, got "
                        f"{type(model).__name__}")
    return model


def attack(name: str, model: Any, images: Any, labels: Any, *, epsilon: float, seed: int = 0,
           batch_size: int = 256, **options: Any) -> np.ndarray:
    """Runs the registered attack ``name`` at radius ``epsilon``; returns the adversarial images.

    Raises:
      robustkit.config.ConfigError: an unknown attack, or an option its config block refuses.
      ValueError: images or labels of the wrong kind.
    """
    if name not in ATTACKS:
        raise config_lib.ConfigError(f"unknown attack {name!r}; known attacks: {', '.join(ATTACKS.names())}")
    block = config_lib.parse(ATTACKS.options(name), {**options, "name": name, "epsilons": [epsilon]},
                             source=f"robustkit.attacks.{name}")
    built = ATTACKS.build(block)
    images, labels = as_arrays(images, labels)
    model = as_model(model, images, labels)
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size} must be at least 1")
    out = np.empty_like(images)
    for index, start in enumerate(range(0, len(images), batch_size)):
        part = slice(start, start + batch_size)
        out[part] = np.asarray(built(model, images[part], labels[part], epsilon=epsilon, seed=(seed, index)))
    return out


def fgsm(model: Any, images: Any, labels: Any, *, epsilon: float, **options: Any) -> np.ndarray:
    """Goodfellow et al.'s fast gradient sign method (L-inf)."""
    return attack("fgsm", model, images, labels, epsilon=epsilon, **options)


def pgd(model: Any, images: Any, labels: Any, *, epsilon: float, norm: str = "linf", iterations: int = 10,
        **options: Any) -> np.ndarray:
    """Madry et al.'s projected gradient descent; other options: step_size, restarts, random_start, targeted, loss."""
    return attack("pgd", model, images, labels, epsilon=epsilon, norm=norm, iterations=iterations, **options)


def apgd(model: Any, images: Any, labels: Any, *, epsilon: float, norm: str = "linf", **options: Any) -> np.ndarray:
    """Croce and Hein's Auto-PGD (loss ce or dlr, targeted or not)."""
    return attack("apgd", model, images, labels, epsilon=epsilon, norm=norm, **options)


def square(model: Any, images: Any, labels: Any, *, epsilon: float, norm: str = "linf", **options: Any) -> np.ndarray:
    """Andriushchenko et al.'s score-based Square attack (forward passes only)."""
    return attack("square", model, images, labels, epsilon=epsilon, norm=norm, **options)


def fab(model: Any, images: Any, labels: Any, *, epsilon: float, norm: str = "linf", **options: Any) -> np.ndarray:
    """Croce and Hein's minimal-perturbation FAB attack, kept inside ``epsilon``."""
    return attack("fab", model, images, labels, epsilon=epsilon, norm=norm, **options)


def autoattack(model: Any, images: Any, labels: Any, *, epsilon: float, norm: str = "linf",
               version: str = "standard", **options: Any) -> np.ndarray:
    """Croce and Hein's AutoAttack cascade (standard, plus or rand); each image is the first success found."""
    return attack("autoattack", model, images, labels, epsilon=epsilon, norm=norm, version=version, **options)
