"""Library versions, recorded next to every measurement."""

import importlib.metadata
import platform
from typing import Dict

_PACKAGES = (
    "robustkit",
    "tensorflow",
    "tf-keras",
    "tensorflow-probability",
    "neural-structured-learning",
    "tensorflow-datasets",
    "numpy",
)


def library_versions() -> Dict[str, str]:
    """Python's and each stack package's installed version ('missing' if absent)."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found
