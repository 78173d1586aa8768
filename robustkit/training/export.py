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


def signatures(model: keras.Model) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    """The three serving signatures of a model taking ``image`` in [0, 1]."""
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

    return {
        "serving_default": serve_uint8.get_concrete_function(),
        "serve_float": serve_float.get_concrete_function(),
        "serve_encoded": serve_encoded.get_concrete_function(),
    }


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
    class-id order.

    Under MultiWorkerMirroredStrategy every worker must take part in saving; the
    non-chief workers save to throw-away directories.

    Returns:
      The version directory written; None on non-chief workers.
    """
    if not distribute.is_chief(strategy):
        scratch = distribute.write_dir(export_root, strategy)
        model.save(os.path.join(scratch, "model"), save_format="tf", signatures=signatures(model))
        shutil.rmtree(scratch, ignore_errors=True)
        return None
    target = outputs.next_version_dir(export_root)
    with outputs.atomic_dir(target) as tmp:
        model.save(tmp, save_format="tf", signatures=signatures(model))
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        for name, lines in (("labels.txt", class_names), ("class_ids.txt", class_ids)):
            if lines is not None:
                with open(os.path.join(tmp, "assets", name), "w", encoding="utf-8") as f:
                    f.write("".join(f"{line}\n" for line in lines))
    log.info("exported %s", target)
    return target
