"""A split's examples as arrays in memory: what the analysis tools attack, explain, measure and score."""

from typing import List, Optional, Tuple

import numpy as np

from robustkit.data import load_split
from robustkit.data.options import DataConfig
from robustkit.data.pipeline import make_pipeline
from robustkit.data.source import Source


def to_arrays(source: Source, image_size: Optional[int] = None, batch_size: int = 256,
              seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """All of ``source`` in order: float32 images [N, S, S, C] in [0, 1] resized to ``image_size``, int64 labels."""
    batches = list(make_pipeline(source, batch_size, training=False, seed=seed, image_size=image_size, cache=False))
    if not batches:
        channels = source.image_shape[2]
        return np.zeros((0, image_size or 0, image_size or 0, channels), np.float32), np.zeros(0, np.int64)
    return (np.concatenate([b["image"].numpy() for b in batches]),
            np.concatenate([b["label"].numpy() for b in batches]).astype(np.int64))


def load_arrays(options: DataConfig, split: str, limit: Optional[int]) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """One split as numpy: uint8 images ``[N, H, W, C]``, int64 labels and the class names.

    Raises:
      robustkit.data.DataError: if the split cannot be read.
    """
    source = load_split(options, split, limit)
    images, labels = [], []
    for batch in source.dataset.batch(4096):
        images.append(batch["image"].numpy())
        labels.append(batch["label"].numpy())
    if not images:
        shape = tuple(d or 0 for d in source.image_shape)
        return np.zeros((0,) + shape, np.uint8), np.zeros((0,), np.int64), source.class_names
    return np.concatenate(images), np.concatenate(labels).astype(np.int64), source.class_names
