"""MNIST and Fashion-MNIST from IDX files (or Keras's ``mnist.npz`` cache).

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian
header of two zero bytes, a type code (0x08: unsigned byte), the number of
dimensions, one uint32 per dimension, then the data in C order. Image files have
magic 0x00000803 (dims N, rows, cols), label files 0x00000801 (dim N).
"""

import gzip
import logging
import os
from typing import List, Optional, Tuple

import numpy as np

from robustkit.data.options import DataConfig, FashionMnistConfig, MnistConfig  # noqa: F401  (re-exported)
from robustkit.data.source import DataError, Source, check_split, from_arrays

logger = logging.getLogger(__name__)

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
SPLITS = {"train": "train", "test": "t10k"}

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
MNIST_CLASSES = [str(i) for i in range(10)]


def file_names(prefix: str) -> Tuple[str, str]:
    """The image and label file names (without ``.gz``) for ``train`` or ``t10k``."""
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def read_idx(path: str, magic: int, ndim: int) -> np.ndarray:
    """Reads one IDX file of unsigned bytes, ``.gz`` or plain.

    Args:
      path: the file.
      magic: the expected magic number (`IMAGES_MAGIC` or `LABELS_MAGIC`).
      ndim: the expected number of dimensions.

    Returns:
      A uint8 array of the shape the header gives.

    Raises:
      DataError: naming the file and what was expected, if the header or the
        length does not fit.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read IDX file {path}: {err}") from None
    if len(data) < 4:
        raise DataError(f"IDX file {path} is {len(data)} bytes, too short for a header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"IDX file {path} has magic number 0x{found:08x}; expected 0x{magic:08x} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file {path} ends inside its header ({len(data)} of {header} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"IDX file {path} holds {len(data)} bytes; its header (dims {dims}) says {expected}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory: str, name: str) -> Optional[str]:
    for candidate in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
        if os.path.isfile(candidate):
            return candidate
    return None


def read_idx_split(directory: str, prefix: str) -> Tuple[np.ndarray, np.ndarray]:
    """Reads ``<prefix>-images`` and ``<prefix>-labels`` from ``directory``.

    Returns:
      ``uint8 [N, rows, cols]`` images and ``uint8 [N]`` labels.

    Raises:
      DataError: if a file is missing or malformed, or the counts differ.
    """
    images_name, labels_name = file_names(prefix)
    images_path = _find(directory, images_name)
    labels_path = _find(directory, labels_name)
    for name, path in ((images_name, images_path), (labels_name, labels_path)):
        if path is None:
            raise DataError(f"{directory} has no {name} (or {name}.gz)")
    images = read_idx(images_path, IMAGES_MAGIC, 3)
    labels = read_idx(labels_path, LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise DataError(
            f"IDX file {images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; expected the same count"
        )
    return images, labels


def _candidates(options: DataConfig, dataset: str) -> List[Tuple[str, str]]:
    """Places to look, in order, as ``(kind, path)`` with kind ``idx`` or ``npz``."""
    if options.dir:
        places = [("idx", options.dir)]
        if dataset == "mnist":
            places.append(("npz", os.path.join(options.dir, "mnist.npz")))
        return places
    keras_dir = os.path.expanduser(os.path.join("~", ".keras", "datasets"))
    if dataset == "fashion_mnist":
        return [("idx", "/usr/share/datasets/fashion-mnist"), ("idx", os.path.join(keras_dir, "fashion-mnist"))]
    return [("idx", os.path.join(keras_dir, "mnist")), ("npz", os.path.join(keras_dir, "mnist.npz"))]


def _load(options: DataConfig, split: str, limit: Optional[int], dataset: str, class_names: List[str]) -> Source:
    check_split(dataset, split, list(SPLITS))
    prefix = SPLITS[split]
    places = _candidates(options, dataset)
    for kind, path in places:
        if kind == "npz" and os.path.isfile(path):
            logger.info("reading %s %s from %s", dataset, split, path)
            with np.load(path) as arrays:
                images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
            return from_arrays(images.astype(np.uint8), labels, class_names=class_names, split=split, limit=limit)
        if kind == "idx" and all(_find(path, name) for name in file_names(prefix)):
            logger.info("reading %s %s from %s", dataset, split, path)
            images, labels = read_idx_split(path, prefix)
            return from_arrays(images, labels, class_names=class_names, split=split, limit=limit)
    searched = "; ".join(f"{path} ({'IDX files' if kind == 'idx' else 'Keras npz'})" for kind, path in places)
    images_name, labels_name = file_names(prefix)
    install = ""
    if dataset == "fashion_mnist":
        install = "install the Debian package (apt-get install dataset-fashion-mnist), or "
    raise DataError(
        f"{dataset} split {split!r} not found: looked for {images_name}[.gz] and {labels_name}[.gz] in: "
        f"{searched}. To fix it, {install}copy the four IDX files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; .gz or plain) "
        "into a directory and set data.dir to it."
    )


def load_mnist(options: DataConfig, split: str, limit: Optional[int] = None) -> Source:
    """Loads an MNIST split (``train``: 60,000, ``test``: 10,000; 28x28x1)."""
    return _load(options, split, limit, "mnist", MNIST_CLASSES)


def load_fashion_mnist(options: DataConfig, split: str, limit: Optional[int] = None) -> Source:
    """Loads a Fashion-MNIST split (``train``: 60,000, ``test``: 10,000; 28x28x1)."""
    return _load(options, split, limit, "fashion_mnist", FASHION_MNIST_CLASSES)
