"""The one module that prepares TensorFlow for robustkit.

robustkit builds on tf-keras (Keras 2) because Neural Structured Learning and
`tfp.layers` do not work with Keras 3. TensorFlow picks its Keras the first time
`tf.keras` is touched, reading ``TF_USE_LEGACY_KERAS`` at that moment, so the
variable must be set before any code resolves `tf.keras`.

NSL 1.4 imports `tensorflow.estimator`, which TensorFlow removed in 2.16. Nothing
robustkit uses needs NSL's estimator subpackage, so an empty module is registered
in its place before NSL is imported.

`configure()` runs when `robustkit` is imported; it does not import TensorFlow.
"""

import os
import sys
import types

_NSL_ESTIMATOR = "neural_structured_learning.estimator"


class KerasVersionError(RuntimeError):
    """TensorFlow was already using Keras 3 when robustkit was imported."""


def _keras_already_resolved_to_keras3() -> bool:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    keras = getattr(tf, "__dict__", {}).get("keras")
    if keras is None:
        return False
    if type(keras).__name__ == "KerasLazyLoader":
        if not object.__getattribute__(keras, "_tfll_initialized"):
            return False
        return getattr(keras, "_tfll_keras_version", None) == "keras_3"
    # Once resolved, the loader is replaced by the module it loaded.
    return getattr(keras, "__name__", "").startswith("keras.")


def configure() -> None:
    """Selects tf-keras and makes NSL importable; fails if Keras 3 is active.

    Raises:
      KerasVersionError: if `tf.keras` already resolved to Keras 3 in this
        process, which robustkit cannot work with.
    """
    if _keras_already_resolved_to_keras3():
        raise KerasVersionError(
            "TensorFlow was imported and `tf.keras` already resolved to Keras 3 "
            "before robustkit was imported. robustkit needs tf-keras (Keras 2), "
            "which TensorFlow only selects when TF_USE_LEGACY_KERAS=1 is set "
            "before `tf.keras` is first used. Import robustkit before touching "
            "`tf.keras`, or export TF_USE_LEGACY_KERAS=1 in the environment."
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if _NSL_ESTIMATOR not in sys.modules:
        stub = types.ModuleType(_NSL_ESTIMATOR)
        stub.__doc__ = "Placeholder: NSL's estimator API needs tf.estimator, gone since TF 2.16."
        sys.modules[_NSL_ESTIMATOR] = stub
