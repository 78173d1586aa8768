"""Starts a classifier from the weights of an earlier export (``train.init_from``).

Fine-tuning a robust twin from its base model, instead of training it from
random weights, is the usual way to make one cheaply: the twin starts from
features that already separate the classes and its adversarial epochs only
have to make them robust. The source is anything `robustkit.train` exported
(a version directory or its model root) or a Keras model file; its weights
are copied one by one into the model the config builds, which must have the
same architecture. Only the weights come over: the optimizer, the schedule and
the epoch count start afresh.
"""

from typing import List, Tuple

import tf_keras as keras

from robustkit.errors import UserError
from robustkit.models.paths import resolve_model_path


class InitFromError(UserError, ValueError):
    """``train.init_from`` names a model whose weights do not fit the config's model."""


def _describe(weights) -> List[Tuple[str, Tuple[int, ...]]]:
    return [(w.name, tuple(w.shape)) for w in weights]


def load_source(path: str) -> Tuple[str, keras.Model]:
    """The resolved path and the Keras model that ``path`` names (checked before any training starts)."""
    resolved = resolve_model_path(path, "train.init_from")
    try:
        source = keras.models.load_model(resolved, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise InitFromError(
            f"train.init_from = {path!r}: {resolved} could not be read as a Keras model ({err}); expected an "
            "export of python -m robustkit.train (saved_models/<name> or one of its numbered versions) or a "
            "Keras model file"
        ) from err
    if not isinstance(source, keras.Model):
        raise InitFromError(
            f"train.init_from = {path!r}: {resolved} holds a {type(source).__name__}, not a Keras model; expected "
            "an export of python -m robustkit.train or a Keras model file"
        )
    return resolved, source


def copy_weights(model: keras.Model, source: keras.Model, path: str) -> int:
    """Sets ``model``'s weights to ``source``'s, in order, after checking that each shape matches.

    Call it inside the strategy's scope that built ``model``: each replica's
    copy of a variable receives the same value.

    Returns:
      The number of weight tensors copied.

    Raises:
      InitFromError: when the two models differ in the number or shape of their weights.
    """
    target, given = _describe(model.weights), _describe(source.weights)
    if len(target) != len(given):
        raise InitFromError(
            f"train.init_from = {path!r} has {len(given)} weight tensors and the config's model "
            f"({model.name}) has {len(target)}; the source must be an export of the same model config "
            "(model.name and its options, input_size, channels and number of classes)"
        )
    for index, ((name, shape), (source_name, source_shape)) in enumerate(zip(target, given)):
        if shape != source_shape:
            raise InitFromError(
                f"train.init_from = {path!r}: weight {index} is {source_name} of shape {source_shape} there and "
                f"{name} of shape {shape} in the config's model; the source must be an export of the same "
                "model config (model.name and its options, input_size, channels and number of classes)"
            )
    model.set_weights(source.get_weights())
    return len(given)
