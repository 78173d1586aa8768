"""Datasets and the input pipeline.

One front door per job:

- `DATASETS`: the dataset registry; each entry's options class extends
  `DataConfig` with its own keys, so a config's ``data:`` block is validated
  against the chosen dataset.
- `load_split(options, split, limit)`: one split as a `Source` (unbatched uint8
  images and int64 labels, plus class names and sizes).
- `make_pipeline(source, batch_size, training=..., seed=...)`: batches of
  ``{'image': float32 [B, S, S, C] in [0, 1], 'label': int64 [B]}``.
- `PAIR_SOURCES`: the sources of (clean, corrupted) pairs for the generative
  models (`robustkit.data.pairs`).

Registered datasets: ``mnist`` and ``fashion_mnist`` (IDX files, `idx`),
``tiny_imagenet`` (`tiny_imagenet`) and ``tfds`` (any TFDS builder,
`tfds_source`).

Importing this package imports no TensorFlow: the registries hold the options
classes (`robustkit.data.options`) and import each loader when it is first
used; `make_pipeline`, `augment_batch`, `Source` and `DataError` are imported
from their modules when first read.
"""

import importlib
from typing import TYPE_CHECKING, Any, Optional

from robustkit.data.options import (
    AugmentConfig,
    CorruptedConfig,
    DataConfig,
    FashionMnistConfig,
    MnistConfig,
    MnistCorruptedConfig,
    RotationConfig,
    TfdsConfig,
    TinyImageNetConfig,
)
from robustkit.registry import Registry

if TYPE_CHECKING:
    from robustkit.data.source import Source

DATASETS = Registry("dataset")
DATASETS.register("mnist", "robustkit.data.idx:load_mnist", MnistConfig)
DATASETS.register("fashion_mnist", "robustkit.data.idx:load_fashion_mnist", FashionMnistConfig)
DATASETS.register("tiny_imagenet", "robustkit.data.tiny_imagenet:load_tiny_imagenet", TinyImageNetConfig)
DATASETS.register("tfds", "robustkit.data.tfds_source:load_tfds", TfdsConfig)

PAIR_SOURCES = Registry("pair source")
PAIR_SOURCES.register("mnist_corrupted", "robustkit.data.pairs:_load_mnist_corrupted", MnistCorruptedConfig)
PAIR_SOURCES.register("corrupted", "robustkit.data.pairs:_load_local", CorruptedConfig)
PAIR_SOURCES.register("rotation", "robustkit.data.pairs:_load_local", RotationConfig)

# Public names that need TensorFlow, and the modules they come from.
_LAZY = {
    "DataError": "robustkit.data.source",
    "Source": "robustkit.data.source",
    "augment_batch": "robustkit.data.augment",
    "make_pipeline": "robustkit.data.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_split(options: DataConfig, split: str, limit: Optional[int] = None) -> "Source":
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
    "PAIR_SOURCES",
    "Source",
    "augment_batch",
    "load_split",
    "make_pipeline",
]
