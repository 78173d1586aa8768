"""Plain, untiled numpy references the separation tests compare against."""

import numpy as np


def nearest_other_label(queries, query_labels, refs, ref_labels):
    """Brute force in float64: ``{'l2': distances, 'linf': distances}``, raw units (no /255)."""
    q = np.asarray(queries, np.float64).reshape(len(queries), -1)
    r = np.asarray(refs, np.float64).reshape(len(refs), -1)
    same = np.asarray(query_labels)[:, None] == np.asarray(ref_labels)[None, :]
    l2 = np.empty(len(q))
    linf = np.empty(len(q))
    for start in range(0, len(q), 64):
        diff = q[start:start + 64, None, :] - r[None, :, :]
        squared = np.einsum("qrd,qrd->qr", diff, diff)
        cheb = np.abs(diff).max(axis=2)
        squared[same[start:start + 64]] = np.inf
        cheb[same[start:start + 64]] = np.inf
        l2[start:start + 64] = np.sqrt(squared.min(axis=1))
        linf[start:start + 64] = cheb.min(axis=1)
    return {"l2": l2, "linf": linf}


def fashion_mnist_dir() -> str:
    """$FASHION_MNIST_DIR (the Makefile exports it), else where Debian's dataset-fashion-mnist puts the files."""
    import os

    return os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"


def fashion_mnist(split: str, count: int):
    """The first ``count`` images (uint8 [N, 28, 28, 1]) and labels of the offline Fashion-MNIST, or None."""
    import gzip
    import os

    root = fashion_mnist_dir()
    prefix = {"train": "train", "test": "t10k"}[split]
    images_path = os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")
    labels_path = os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")
    if not (os.path.isfile(images_path) and os.path.isfile(labels_path)):
        return None
    with gzip.open(images_path) as f:
        images = np.frombuffer(f.read(16 + count * 784), np.uint8, offset=16).reshape(count, 28, 28, 1)
    with gzip.open(labels_path) as f:
        labels = np.frombuffer(f.read(8 + count), np.uint8, offset=8).astype(np.int64)
    return images, labels
