"""Small datasets written in the real on-disk formats, for tests and benchmarks.

`write_idx` writes MNIST-style IDX files; `write_tiny_imagenet` writes a
``tiny-imagenet-200/``-style tree of real JPEGs. Class ``i`` has wnid
``n{i:08d}`` and its images are a class colour plus noise, so a classifier can
tell classes apart. Names inside the tree follow the real dataset:
``train/<wnid>/images/<wnid>_<n>.JPEG``, ``val/images/val_<k>.JPEG``,
``test/images/test_<k>.JPEG``; pass such relative paths in ``grayscale`` or
``corrupt`` to write those files as 1-channel JPEGs or as undecodable bytes.
"""

import colorsys
import dataclasses
import gzip as gzip_lib
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from robustkit.data import idx


def write_idx(
    directory: str, images_uint8: np.ndarray, labels: np.ndarray, prefix: str = "train", gzip: bool = True
) -> Tuple[str, str]:
    """Writes ``<prefix>-images-idx3-ubyte`` and ``<prefix>-labels-idx1-ubyte``.

    Args:
      directory: created if missing.
      images_uint8: ``[N, rows, cols]`` (or ``[N, rows, cols, 1]``) uint8 images.
      labels: ``[N]`` labels in 0..255.
      prefix: ``train`` or ``t10k``.
      gzip: append ``.gz`` and compress.

    Returns:
      The images and labels paths.
    """
    images = np.asarray(images_uint8, np.uint8)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    labels = np.asarray(labels, np.uint8)
    if images.ndim != 3 or labels.shape != (len(images),):
        raise ValueError(f"expected images [N, rows, cols] and labels [N], got {images.shape} and {labels.shape}")
    os.makedirs(directory, exist_ok=True)
    images_name, labels_name = idx.file_names(prefix)
    paths = []
    for name, magic, array in ((images_name, idx.IMAGES_MAGIC, images), (labels_name, idx.LABELS_MAGIC, labels)):
        header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        path = os.path.join(directory, name + (".gz" if gzip else ""))
        opener = gzip_lib.open if gzip else open
        with opener(path, "wb") as f:
            f.write(header + array.tobytes())
        paths.append(path)
    return paths[0], paths[1]


@dataclasses.dataclass
class SyntheticTree:
    """What `write_tiny_imagenet` wrote.

    Attributes:
      root: the ``tiny-imagenet-200``-style directory.
      wnids: class wnids, sorted (class id = index).
      class_names: the names written to ``words.txt``, by class id.
      files: relative paths by split (``train``, ``val``, ``test``).
      labels: class ids by split, parallel to ``files`` (-1 for test).
    """

    root: str
    wnids: List[str]
    class_names: List[str]
    files: Dict[str, List[str]]
    labels: Dict[str, List[int]]


def _colour(label: int, num_classes: int) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb(label / max(num_classes, 1), 0.8, 0.9)
    return np.array(rgb, np.float32) * 255.0


def _jpeg(label: int, num_classes: int, size: int, gray: bool, rng: np.random.Generator) -> bytes:
    image = _colour(label, num_classes) + rng.normal(0.0, 20.0, (size, size, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    if gray:
        image = image.mean(axis=-1, keepdims=True).astype(np.uint8)
    return tf.io.encode_jpeg(image, quality=90).numpy()


def write_tiny_imagenet(
    root: str,
    num_classes: int,
    images_per_class: int,
    val_per_class: int,
    test_images: int,
    size: int = 64,
    grayscale: Sequence[str] = (),
    corrupt: Sequence[str] = (),
    seed: int = 0,
) -> SyntheticTree:
    """Writes a small Tiny-ImageNet tree of real JPEG files.

    ``wnids.txt`` lists the wnids in a shuffled order (the loader must sort
    them); ``words.txt`` also holds an entry for a wnid that is not a class.
    Corrupt files alternate between a truncated JPEG and bytes that are no
    image at all.

    Args:
      root: the directory to create.
      num_classes: classes (wnids ``n00000000``, ``n00000001``, ...).
      images_per_class: training images per class.
      val_per_class: validation images per class (interleaved over classes).
      test_images: unlabelled test images.
      size: image height and width.
      grayscale: relative paths written as 1-channel JPEGs.
      corrupt: relative paths written as undecodable data.
      seed: seeds the pixel noise and the order of ``wnids.txt``.

    Returns:
      A `SyntheticTree` describing the files.
    """
    rng = np.random.default_rng(seed)
    wnids = [f"n{i:08d}" for i in range(num_classes)]
    names = [f"synthetic class {i}, thing {i}" for i in range(num_classes)]
    files: Dict[str, List[str]] = {"train": [], "val": [], "test": []}
    labels: Dict[str, List[int]] = {"train": [], "val": [], "test": []}
    for c, wnid in enumerate(wnids):
        for n in range(images_per_class):
            files["train"].append(f"train/{wnid}/images/{wnid}_{n}.JPEG")
            labels["train"].append(c)
    for k in range(val_per_class * num_classes):
        files["val"].append(f"val/images/val_{k}.JPEG")
        labels["val"].append(k % num_classes)
    for k in range(test_images):
        files["test"].append(f"test/images/test_{k}.JPEG")
        labels["test"].append(int(rng.integers(num_classes)))

    for folder in ("val/images", "test/images"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    gray, broken = set(grayscale), list(corrupt)
    unknown = (gray | set(broken)) - {f for split in files.values() for f in split}
    if unknown:
        raise ValueError(f"grayscale/corrupt name files that are not in the tree: {sorted(unknown)}")
    for split in files:
        for rel, label in zip(files[split], labels[split]):
            data = _jpeg(label, num_classes, size, rel in gray, rng)
            if rel in broken:
                data = data[: len(data) // 3] if broken.index(rel) % 2 == 0 else b"not an image " * 8
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    order = list(rng.permutation(num_classes))
    with open(os.path.join(root, "wnids.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{wnids[i]}\n" for i in order)
    with open(os.path.join(root, "words.txt"), "w", encoding="utf-8") as f:
        f.write("n99999999\tnot a class\n")
        f.writelines(f"{w}\t{n}\n" for w, n in zip(wnids, names))
    with open(os.path.join(root, "val", "val_annotations.txt"), "w", encoding="utf-8") as f:
        for rel, label in zip(files["val"], labels["val"]):
            f.write(f"{os.path.basename(rel)}\t{wnids[label]}\t0\t0\t{size - 1}\t{size - 1}\n")
    return SyntheticTree(root=root, wnids=wnids, class_names=names, files=files, labels=labels)
