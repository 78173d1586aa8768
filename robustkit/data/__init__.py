"""Datasets and the input pipeline.

One front door per job:

- `DATASETS`: the dataset registry; each entry's options class extends
  `DataConfig` with its own keys, so a config's ``data:`` block is validated
  against the chosen dataset.
- `load_split(options, split, limit)`: one split as a `Source` (unbatched uint8
  images and int64 labels, plus class names and sizes).
- `make_pipeline(source, batch_size, training=..., seed=...)`: batches of
  ``{'image': float32 [B, S, S, C] in [0, 1], 'label': int64 [B]}``.

Registered datasets: ``mnist`` and ``fashion_mnist`` (IDX files, `idx`),
``tiny_imagenet`` (`tiny_imagenet`) and ``tfds`` (any TFDS builder,
`tfds_source`).
"""

from typing import Optional

from robustkit.registry import Registry
from robustkit.data import idx, tfds_source, tiny_imagenet
from robustkit.data.augment import augment_batch
from robustkit.data.options import AugmentConfig, DataConfig
from robustkit.data.pipeline import make_pipeline
from robustkit.data.source import DataError, Source

DATASETS = Registry("dataset")
DATASETS.register("mnist", idx.load_mnist, idx.MnistConfig)
DATASETS.register("fashion_mnist", idx.load_fashion_mnist, idx.FashionMnistConfig)
DATASETS.register("tiny_imagenet", tiny_imagenet.load_tiny_imagenet, tiny_imagenet.TinyImageNetConfig)
DATASETS.register("tfds", tfds_source.load_tfds, tfds_source.TfdsConfig)


def load_split(options: DataConfig, split: str, limit: Optional[int] = None) -> Source:
    """Loads one split of the dataset ``options.name``.

    Args:
      options: the ``data`` config block (the dataset's options class, or a
        plain `DataConfig` for datasets without extra keys).
      split: the split's name (``train``, ``test``, ``val``, or a TFDS split string).
      limit: keep only the first ``limit`` examples (None: all).

    Returns:
      The split as a `Source`.

    Raises:
      robustkit.registry.RegistryError: if the dataset name is unknown.
      DataError: if the data cannot be found or read, or the split is unknown.
    """
    return DATASETS.get(options.name).builder(options, split, limit)


__all__ = [
    "AugmentConfig",
    "DATASETS",
    "DataConfig",
    "DataError",
    "Source",
    "augment_batch",
    "load_split",
    "make_pipeline",
]
