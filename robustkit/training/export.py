"""Exports a classifier as a SavedModel that TensorFlow services load as it is.

Layout: ``<export.dir>/<export.name>/<version>/`` (TensorFlow Serving's numbered
versions), written to a temporary directory and renamed when complete, with
class names in ``assets/labels.txt`` (one a line, in class-id order).

Signatures, each returning ``probabilities`` (float32 [batch, classes]),
``class_id`` (int64 [batch]) and ``logits`` (float32 [batch, classes]):

- ``serving_default``: ``image``, uint8 [batch, H, W, C] raw pixels;
- ``serve_float``: ``image``, float32 [batch, H, W, C] in [0, 1];
- ``serve_encoded``: ``image_bytes``, string [batch] of JPEG or PNG files,
  decoded and resized to H x W in the graph.
"""

import logging
import os
import shutil
from typing import Dict, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from robustkit import distribute, outputs

log = logging.getLogger(__name__)


def signatures(model: keras.Model) -> Dict[str, tf.types.experimental.PolymorphicFunction]:
    """The three serving signatures of a model taking ``image`` in [0, 1].

    They are returned as `tf.function`s with input signatures, not as concrete
    functions, so that saving traces them inside its save context: traced
    before it, under a `tf.distribute` strategy, a read of a sync-on-read
    variable (BatchNorm's moving statistics) becomes an all-reduce across the
    replicas inside the serving graph, and TensorFlow refuses to save it
    ("ConcreteFunction that uses distributed variables in certain way cannot
    be saved"). Traced in the save context, the graphs read the saved,
    non-distributed variables.
    """
    height, width, channels = model.input_shape[1:]

    def predict(images: tf.Tensor) -> Dict[str, tf.Tensor]:
        logits = tf.cast(model(images, training=False), tf.float32)
        return {
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "class_id": tf.argmax(logits, axis=-1, output_type=tf.int64),
            "logits": logits,
        }

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.uint8, name="image")])
    def serve_uint8(image):
        return predict(tf.cast(image, tf.float32) / 255.0)

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32, name="image")])
    def serve_float(image):
        return predict(image)

    def decode(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.cast(image, tf.float32) / 255.0
        image = tf.image.resize(image, [height, width], method="bilinear", antialias=True)
        return tf.clip_by_value(image, 0.0, 1.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_encoded(image_bytes):
        images = tf.map_fn(
            decode, image_bytes, fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32)
        )
        return predict(images)

    return {"serving_default": serve_uint8, "serve_float": serve_float, "serve_encoded": serve_encoded}


class ExportMismatchError(RuntimeError):
    """The saved model does not compute what the trained weights compute."""


def plain_copy(model: keras.Model, weights) -> Optional[keras.Model]:
    """``model`` rebuilt from its config outside any strategy, holding ``weights``.

    Returns None when the model cannot be rebuilt from its config (a layer
    without ``get_config``); its own variables are then saved as they are.
    """
    try:
        copy = keras.models.clone_model(model)
    except (ValueError, TypeError, NotImplementedError) as err:
        log.warning("%s cannot be rebuilt from its config (%s); saving its own variables", model.name, err)
        return None
    copy.set_weights(weights)
    return copy


# Machine epsilon of the reduced-precision compute dtypes of the mixed policies.
_COMPUTE_EPSILON = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}


def relative_tolerance(model: keras.Model) -> float:
    """How far, relative to the logits' size, an exact export's logits may stray from ``model``'s.

    1e-3 for float32 computation. A layer computing in bfloat16 or float16
    rounds every activation to 8 or 11 significant bits, and the serving graph
    may fuse and order its kernels differently from the Keras model (oneDNN's
    bfloat16 kernels do), so the two round differently: then 8 machine
    epsilons of the lowest precision computed in (0.0625 for bfloat16). A wrong
    export (other weights, other BatchNorm statistics) is off by far more.
    """
    epsilons = [_COMPUTE_EPSILON.get(getattr(layer, "compute_dtype", None), 0.0) for layer in model.submodules]
    return max([1e-3] + [8.0 * e for e in epsilons])


def check_export(path: str, model: keras.Model) -> float:
    """Checks that the SavedModel at ``path`` computes what ``model`` computes.

    The reloaded export's ``serve_float`` and ``model`` run on the same probe
    batch; the serving graph must give the Keras model's logits, within
    `relative_tolerance` of their largest magnitude (plus one).

    Returns:
      The largest absolute logit difference.

    Raises:
      ExportMismatchError: when they differ by more than float rounding.
    """
    height, width, channels = model.input_shape[1:]
    probe = tf.random.stateless_uniform([4, height, width, channels], seed=[20, 11])
    expected = tf.cast(model(probe, training=False), tf.float32)
    got = tf.saved_model.load(path).signatures["serve_float"](image=probe)["logits"]
    difference = float(tf.reduce_max(tf.abs(got - expected)))
    tolerance = relative_tolerance(model) * (1.0 + float(tf.reduce_max(tf.abs(expected))))
    if not difference <= tolerance:
        raise ExportMismatchError(
            f"the model saved to {path} differs from the trained model by {difference:g} in its logits on a "
            f"probe batch (tolerance {tolerance:g}); the export was not published"
        )
    log.info("export checked: its serving signature gives the trained model's logits (max difference %.3g)",
             difference)
    return difference


def export_model(
    model: keras.Model,
    export_root: str,
    class_names: Sequence[str],
    strategy: tf.distribute.Strategy,
    class_ids: Optional[Sequence[str]] = None,
) -> Optional[str]:
    """Saves ``model`` (never an NSL wrapper) to ``<export_root>/<next version>/``.

    Class names go to ``assets/labels.txt``; dataset class identifiers (such as
    Tiny-ImageNet's wnids), when given, to ``assets/class_ids.txt``, both in
    class-id order. Before it is published the export is checked against the
    model (`check_export`).

    What is saved is a copy of the model rebuilt outside the strategy with the
    trained weights (`plain_copy`): ``model.get_weights()`` reads each
    replicated variable once and averages the sync-on-read ones (BatchNorm's
    moving statistics) over all replicas and workers. Saving the distributed
    model itself would all-reduce such a variable at every read the saver
    makes, and signatures traced from it outside the save context carry those
    all-reduces into the serving graph, which TensorFlow refuses to save.

    Call it outside ``strategy.scope()``, on every worker of a
    MultiWorkerMirroredStrategy: reading the weights takes all of them.

    Returns:
      The version directory written; None on non-chief workers.
    """
    weights = model.get_weights()  # On every worker: it all-reduces the sync-on-read variables.
    copy = plain_copy(model, weights)
    chief = distribute.is_chief(strategy)
    if copy is None and not chief:  # Saving distributed variables takes every worker.
        scratch = distribute.write_dir(export_root, strategy)
        model.save(os.path.join(scratch, "model"), save_format="tf", signatures=signatures(model))
        shutil.rmtree(scratch, ignore_errors=True)
    if not chief:
        distribute.barrier(strategy)  # Until the chief has published the export.
        return None
    saved = copy if copy is not None else model
    target = outputs.next_version_dir(export_root)
    with outputs.atomic_dir(target) as tmp:
        saved.save(tmp, save_format="tf", signatures=signatures(saved))
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        for name, lines in (("labels.txt", class_names), ("class_ids.txt", class_ids)):
            if lines is not None:
                with open(os.path.join(tmp, "assets", name), "w", encoding="utf-8") as f:
                    f.write("".join(f"{line}\n" for line in lines))
        if copy is not None:  # The distributed model itself cannot run on the chief alone.
            check_export(tmp, copy)
    log.info("exported %s", target)
    distribute.barrier(strategy)
    return target
