"""Tiny-ImageNet (200 classes, 64x64 RGB) from the standard ``tiny-imagenet-200/`` tree.

Layout: ``wnids.txt``, ``words.txt`` (``wnid<TAB>names``),
``train/<wnid>/images/<wnid>_<n>.JPEG``, ``val/val_annotations.txt``
(``file<TAB>wnid<TAB>x<TAB>y<TAB>w<TAB>h``) with ``val/images/``, and
``test/images/`` (unlabelled: label -1).

Every file of a split is decoded once, in parallel with tf.data, into one
in-memory uint8 array; that array is the cache. All 100,000 training images at
64x64x3 take about 1.2 GB; building the dataset copies the array into a tensor,
and resident memory was measured at about twice the array's size. Grayscale
files become 3 channels, and files of another size are resized to 64x64. A file
that cannot be read or decoded is an error naming it unless ``skip_corrupt`` is
set, which drops it with a warning.

Class ids follow the sorted wnids. Training files are ordered round-robin over
classes (the first file of every class, then the second, ...), so a limit keeps
the classes balanced; validation files keep the annotation file's order, test
files are sorted by name.
"""

import logging
import os
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from robustkit.data.options import TinyImageNetConfig
from robustkit.data.source import DataError, Source, apply_limit, check_split, from_arrays

logger = logging.getLogger(__name__)

SIZE = 64
SPLITS = ("train", "val", "test")
_SHOW = 5


def _read_lines(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n\r") for line in f if line.strip()]


def read_classes(root: str) -> Tuple[List[str], List[str]]:
    """Returns the sorted wnids and their names from ``words.txt`` (else the wnid)."""
    wnids = sorted({line.strip() for line in _read_lines(os.path.join(root, "wnids.txt"))})
    words: Dict[str, str] = {}
    words_path = os.path.join(root, "words.txt")
    if os.path.isfile(words_path):
        for line in _read_lines(words_path):
            wnid, _, names = line.partition("\t")
            words[wnid.strip()] = names.strip()
    return wnids, [words.get(w) or w for w in wnids]


def list_files(root: str, split: str, wnids: List[str]) -> Tuple[List[str], List[int]]:
    """Lists a split's image paths and labels in the module's fixed order."""
    index = {w: i for i, w in enumerate(wnids)}
    if split == "train":
        per_class = []
        for wnid in wnids:
            folder = os.path.join(root, "train", wnid, "images")
            if not os.path.isdir(folder):
                raise DataError(f"Tiny-ImageNet class {wnid} (in wnids.txt) has no folder {folder}")
            per_class.append(sorted(os.path.join(folder, f) for f in os.listdir(folder) if not f.startswith(".")))
        order = sorted(
            ((n, c) for c, files in enumerate(per_class) for n in range(len(files))),
        )
        return [per_class[c][n] for n, c in order], [c for _, c in order]
    if split == "val":
        annotations = os.path.join(root, "val", "val_annotations.txt")
        paths, labels = [], []
        for number, line in enumerate(_read_lines(annotations), 1):
            fields = line.split("\t")
            if len(fields) < 2 or fields[1] not in index:
                raise DataError(
                    f"{annotations} line {number}: expected 'file<TAB>wnid<TAB>...' with a wnid from "
                    f"wnids.txt, got {line!r}"
                )
            paths.append(os.path.join(root, "val", "images", fields[0]))
            labels.append(index[fields[1]])
        return paths, labels
    folder = os.path.join(root, "test", "images")
    names = sorted(f for f in os.listdir(folder) if not f.startswith("."))
    return [os.path.join(folder, f) for f in names], [-1] * len(names)


def _decode(index: tf.Tensor, path: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    shape = tf.shape(image)

    def resize() -> tf.Tensor:
        resized = tf.image.resize(image, [SIZE, SIZE], method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)

    image = tf.cond(tf.logical_and(shape[0] == SIZE, shape[1] == SIZE), lambda: image, resize)
    return index, tf.ensure_shape(image, [SIZE, SIZE, 3])


def decode_files(paths: List[str], batch_size: int = 256) -> Tuple[np.ndarray, np.ndarray]:
    """Decodes image files in parallel into one uint8 array.

    Args:
      paths: the files, in order.
      batch_size: images moved out of tf.data at a time.

    Returns:
      ``uint8 [N, 64, 64, 3]`` images (zeros where a file failed) and a boolean
      ``[N]`` mask of the files that decoded.
    """
    images = np.zeros((len(paths), SIZE, SIZE, 3), np.uint8)
    decoded = np.zeros(len(paths), bool)
    if not paths:
        return images, decoded
    dataset = (
        tf.data.Dataset.from_tensor_slices((np.arange(len(paths), dtype=np.int64), np.array(paths)))
        .map(_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    for indices, batch in dataset.as_numpy_iterator():
        images[indices] = batch
        decoded[indices] = True
    return images, decoded


def _check_root(root: str) -> None:
    expected = "wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/val_annotations.txt, val/images/, test/images/"
    if not os.path.isdir(root) or not os.path.isfile(os.path.join(root, "wnids.txt")):
        raise DataError(
            f"Tiny-ImageNet not found at {os.path.abspath(root)} (no such directory or no wnids.txt). "
            "Download tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip), unzip it "
            f"there or elsewhere, and set data.dir to the tiny-imagenet-200 directory; it must hold {expected}."
        )


def load_tiny_imagenet(options: TinyImageNetConfig, split: str, limit: Optional[int] = None) -> Source:
    """Loads a Tiny-ImageNet split into memory.

    Args:
      options: the dataset options (``dir``, ``skip_corrupt``).
      split: ``train`` (100,000), ``val`` (10,000) or ``test`` (10,000, labels -1).
      limit: decode only the first ``limit`` files of the split.

    Returns:
      The split, with ``class_ids`` the sorted wnids and ``skipped`` the number
      of corrupt files dropped.

    Raises:
      DataError: if the tree is missing or malformed, or files are corrupt and
        ``skip_corrupt`` is false.
    """
    check_split("tiny_imagenet", split, SPLITS)
    root = options.dir or TinyImageNetConfig.dir
    _check_root(root)
    wnids, class_names = read_classes(root)
    paths, labels = list_files(root, split, wnids)
    count = apply_limit(len(paths), limit)
    paths, labels = paths[:count], np.asarray(labels[:count], np.int64)

    start = time.perf_counter()
    images, decoded = decode_files(paths)
    seconds = time.perf_counter() - start
    logger.info("decoded %d Tiny-ImageNet %s images in %.1f s (%.0f images/s)",
                count, split, seconds, count / max(seconds, 1e-9))

    failed = [paths[i] for i in np.flatnonzero(~decoded)]
    if failed and not getattr(options, "skip_corrupt", False):
        shown = ", ".join(failed[:_SHOW]) + (f" and {len(failed) - _SHOW} more" if len(failed) > _SHOW else "")
        raise DataError(
            f"{len(failed)} of {count} Tiny-ImageNet {split} files could not be read or decoded: {shown}. "
            "Replace them, or set data.skip_corrupt=true to drop them."
        )
    if failed:
        logger.warning("dropped %d of %d Tiny-ImageNet %s files that could not be decoded (data.skip_corrupt)",
                       len(failed), count, split)
        images, labels = images[decoded], labels[decoded]
    return from_arrays(images, labels, class_names=class_names, split=split, class_ids=wnids, skipped=len(failed))
