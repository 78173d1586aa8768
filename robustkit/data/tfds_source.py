"""Any TensorFlow Datasets builder with an image and a class label.

``tensorflow_datasets`` is imported when a split is loaded, not when this module
is, because it takes seconds and pulls in many modules that the other datasets
never need.

Nothing is downloaded unless ``download`` is set. Offline, TFDS reads a prepared
dataset from ``<data_dir>/<name>/<config>/<version>/``, or prepares one from
archives placed in ``<data_dir>/downloads/manual/``.
"""

import difflib
import logging
import os
from typing import Any, Optional

import tensorflow as tf

from robustkit.data.options import TfdsConfig
from robustkit.data.source import DataError, Source, apply_limit

logger = logging.getLogger(__name__)


def _data_dir_root(options: TfdsConfig) -> str:
    if options.dir:
        return options.dir
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def _missing(options: TfdsConfig, builder: Any, reason: str) -> DataError:
    root = _data_dir_root(options)
    return DataError(
        f"TFDS dataset {options.builder!r} is not available: {reason}. TFDS looks for a prepared dataset in "
        f"{builder.data_dir}/ (<data_dir>/<name>/<config>/<version>/) and for a manual download in "
        f"{os.path.join(root, 'downloads', 'manual')}/ (<data_dir>/downloads/manual/). Copy a prepared "
        "dataset or the downloaded archive there (data.dir sets data_dir), or set data.download=true "
        "where a network exists."
    )


def _builder(options: TfdsConfig) -> Any:
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    if not options.builder:
        raise DataError(
            "data.builder is empty; set it to a TFDS name such as 'mnist' or 'mnist_corrupted/shot_noise'"
        )
    try:
        builder = tfds.builder(options.builder, data_dir=options.dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = options.builder.split("/")[0].split(":")[0]
        close = difflib.get_close_matches(base, tfds.list_builders(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(
            f"data.builder = {options.builder!r} is neither a registered TFDS dataset nor prepared in "
            f"{_data_dir_root(options)}{hint} (catalog: https://www.tensorflow.org/datasets/catalog)"
        ) from None
    if options.download and not builder.is_prepared():
        logger.info("downloading and preparing %s into %s", options.builder, builder.data_dir)
        try:
            builder.download_and_prepare()
        except Exception as err:  # Network and extraction failures have many types.
            raise _missing(options, builder, f"download_and_prepare failed ({type(err).__name__}: {err})") from err
    return builder


def _feature(builder: Any, key: str, what: str) -> Any:
    features = builder.info.features
    if key not in features:
        raise DataError(
            f"TFDS dataset {builder.name!r} has no feature {key!r} for the {what}; "
            f"features: {', '.join(sorted(features.keys()))} (set data.{what}_key)"
        )
    return features[key]


def load_tfds(options: TfdsConfig, split: str, limit: Optional[int] = None) -> Source:
    """Loads a split of a TFDS dataset in TFDS's deterministic read order (files not shuffled).

    Args:
      options: the dataset options.
      split: any TFDS split string (``train``, ``test``, ``train[:80%]``).
      limit: keep the first ``limit`` examples.

    Returns:
      The split, images uint8 and labels int64.

    Raises:
      DataError: if the builder is unknown, the data is not prepared (and not
        downloaded), the split is unknown or the features do not fit.
    """
    builder = _builder(options)
    image = _feature(builder, options.image_key, "image")
    label = _feature(builder, options.label_key, "label")
    shape = tuple(image.shape)
    if len(shape) != 3 or shape[-1] is None:
        raise DataError(f"TFDS feature {options.image_key!r} has shape {shape}; expected (H, W, C)")
    names = getattr(label, "names", None)
    if not names:
        raise DataError(
            f"TFDS feature {options.label_key!r} of {options.builder!r} is not a ClassLabel with class names"
        )
    splits = builder.info.splits
    count = None
    if list(splits.keys()):
        try:
            count = splits[split].num_examples
        except (KeyError, ValueError) as err:
            raise DataError(
                f"TFDS dataset {options.builder!r} has no split {split!r} ({err}); "
                f"known splits: {', '.join(splits.keys())}"
            ) from None
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
    except AssertionError as err:  # TFDS asserts the data directory exists.
        raise _missing(options, builder, "it is not prepared and data.download is false") from err

    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        count = cardinality
    if count is None:
        raise DataError(f"TFDS could not tell how many examples split {split!r} of {options.builder!r} holds")
    count = apply_limit(count, limit)
    image_key, label_key = options.image_key, options.label_key
    dataset = dataset.take(count).map(
        lambda ex: {"image": tf.cast(ex[image_key], tf.uint8), "label": tf.cast(ex[label_key], tf.int64)},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return Source(
        dataset=dataset,
        num_examples=count,
        num_classes=len(names),
        class_names=list(names),
        image_shape=shape,
        split=split,
    )
