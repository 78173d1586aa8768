"""The loaded-split record every dataset returns, and the data error type."""

import dataclasses
import logging
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from robustkit.errors import UserError

logger = logging.getLogger(__name__)


class DataError(UserError, ValueError):
    """A dataset that cannot be found, read or decoded; the message says what to do.

    Entry points print it as one paragraph and exit with status 2.
    """


@dataclasses.dataclass
class Source:
    """One split of a dataset, before batching.

    Attributes:
      dataset: unbatched elements ``{'image': uint8 [H, W, C], 'label': int64 []}``
        in a fixed order (the first ``num_examples`` of the split).
      num_examples: examples in ``dataset`` (after any limit).
      num_classes: classes of the dataset (not only those present in the split).
      class_names: human-readable names; index = class id.
      image_shape: ``(H, W, C)``; H and W are None for datasets whose images
        vary in size.
      split: the split as requested (``'train'``, ``'test'``, ``'train[:80%]'``).
      class_ids: dataset-specific class identifiers (Tiny-ImageNet wnids), if any.
      in_memory: ``dataset`` reads from arrays held in memory, so caching it
        again would only duplicate them.
      skipped: files dropped because they could not be decoded.
    """

    dataset: tf.data.Dataset
    num_examples: int
    num_classes: int
    class_names: List[str]
    image_shape: Tuple[Optional[int], Optional[int], int]
    split: str
    class_ids: Optional[List[str]] = None
    in_memory: bool = False
    skipped: int = 0


def check_split(dataset: str, split: str, known: Sequence[str]) -> None:
    """Fails with the known split names if ``split`` is not one of them."""
    if split not in known:
        raise DataError(f"{dataset} has no split {split!r}; known splits: {', '.join(known)}")


def apply_limit(count: int, limit: Optional[int]) -> int:
    """The number of leading examples kept of ``count`` under ``limit``."""
    if limit is None:
        return count
    if limit <= 0:
        raise ValueError(f"limit must be a positive number of examples or None, got {limit}")
    return min(count, limit)


def from_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str],
    split: str,
    limit: Optional[int] = None,
    class_ids: Optional[Iterable[str]] = None,
    skipped: int = 0,
) -> Source:
    """Builds an in-memory `Source` from ``uint8 [N, H, W, C]`` images and labels.

    Args:
      images: the split's images; a 3-D array gets a channel axis.
      labels: integer class ids (``-1`` for unlabelled examples).
      class_names: names, index = class id.
      split: the split's name.
      limit: keep the first ``limit`` examples (None: all).
      class_ids: dataset-specific class identifiers.
      skipped: files already dropped while reading.

    Returns:
      The split as a `Source`.
    """
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {images.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    count = apply_limit(len(images), limit)
    images = images[:count]
    labels = np.asarray(labels[:count], dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    return Source(
        dataset=dataset,
        num_examples=count,
        num_classes=len(class_names),
        class_names=list(class_names),
        image_shape=tuple(int(d) for d in images.shape[1:]),
        split=split,
        class_ids=list(class_ids) if class_ids is not None else None,
        in_memory=True,
        skipped=skipped,
    )
