"""``--model NAME=PATH`` arguments and model paths, checked before anything is loaded (no TensorFlow).

A PATH is a SavedModel directory (it holds ``saved_model.pb``), a model root of
numbered versions (``saved_models/quickstart_base``: the highest version that
holds a SavedModel is used, TensorFlow Serving's rule), or a Keras model file
(``.h5``, ``.hdf5``, ``.keras``).
"""

import os
import re
from typing import Dict, List, Sequence

from robustkit.errors import UserError

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class ModelPathError(UserError, ValueError):
    """A ``--model`` argument or model path that cannot be used."""


def _versions(path: str) -> List[int]:
    return sorted(
        int(n) for n in os.listdir(path)
        if n.isdigit() and os.path.isfile(os.path.join(path, n, "saved_model.pb"))
    )


def resolve_model_path(path: str, what: str = "model") -> str:
    """The SavedModel directory or Keras file that ``path`` names.

    Raises:
      ModelPathError: if ``path`` does not exist or holds no model.
    """
    if os.path.isfile(path):
        if not path.endswith(KERAS_SUFFIXES):
            raise ModelPathError(
                f"{what} path {path!r} is a file but not a Keras model file ({', '.join(KERAS_SUFFIXES)}); "
                "pass a SavedModel directory, a model root of numbered versions, or a Keras file"
            )
        return path
    if not os.path.isdir(path):
        raise ModelPathError(
            f"{what} path {path!r} does not exist; pass a SavedModel directory (as `python -m robustkit.train` "
            "exports to saved_models/<name>/<version>), a model root of numbered versions, or a Keras file"
        )
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = _versions(path)
    if versions:
        return os.path.join(path, str(versions[-1]))
    raise ModelPathError(
        f"{what} path {path!r} is a directory without saved_model.pb and without numbered versions that hold "
        "one; pass the SavedModel directory itself or its model root"
    )


def parse_model_flags(values: Sequence[str]) -> Dict[str, str]:
    """``["base=saved_models/a", ...]`` -> ``{"base": "saved_models/a/3", ...}`` (paths resolved).

    Raises:
      ModelPathError: for a missing ``=``, a bad or repeated name, or a path
        that holds no model.
    """
    if not values:
        raise ModelPathError("no model given; pass at least one --model NAME=PATH, e.g. --model base=saved_models/m")
    models: Dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise ModelPathError(
                f"--model {value!r}: expected NAME=PATH, e.g. --model base=saved_models/quickstart_base")
        if not _NAME.match(name):
            raise ModelPathError(
                f"--model {value!r}: the name {name!r} may hold only letters, digits, '_', '.' and '-'")
        if name in models:
            raise ModelPathError(f"--model {value!r}: the name {name!r} is given twice; give each model its own name")
        models[name] = resolve_model_path(path, what=f"--model {name}")
    return models
