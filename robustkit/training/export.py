"""Exports a trained Keras model as a SavedModel, atomically, in Serving's layout."""

import logging
import os
import shutil
from typing import Optional, Sequence

import tensorflow as tf

from robustkit import distribute, outputs

log = logging.getLogger(__name__)


def export_model(
    model, export_root: str, class_names: Sequence[str], strategy: tf.distribute.Strategy
) -> Optional[str]:
    """Saves ``model`` to ``<export_root>/<next version>/`` with ``assets/labels.txt``.

    Under MultiWorkerMirroredStrategy every worker must take part in saving; the
    non-chief workers save to throw-away directories.

    Returns:
      The version directory written; None on non-chief workers.
    """
    if not distribute.is_chief(strategy):
        scratch = distribute.write_dir(export_root, strategy)
        model.save(os.path.join(scratch, "model"), save_format="tf")
        shutil.rmtree(scratch, ignore_errors=True)
        return None
    target = outputs.next_version_dir(export_root)
    with outputs.atomic_dir(target) as tmp:
        model.save(tmp, save_format="tf")
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        with open(os.path.join(tmp, "assets", "labels.txt"), "w", encoding="utf-8") as f:
            f.write("".join(f"{name}\n" for name in class_names))
    log.info("exported %s", target)
    return target
