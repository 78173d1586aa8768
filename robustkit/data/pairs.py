"""(clean, corrupted, label) pairs and rotation bundles for learning perturbation sets.

Three sources, chosen by ``data.name`` (`robustkit.data.PAIR_SOURCES`; options in
`robustkit.data.options`):

- ``mnist_corrupted``: TFDS ``mnist_corrupted``, its ``identity`` config paired
  with one corruption config example by example. Both configs hold the same
  MNIST images in the same order; the labels are compared and a mismatch is
  refused (Mu & Gilmer, 2019).
- ``corrupted``: the same kind of pairs built here from any 28x28 grayscale
  dataset of `robustkit.data.DATASETS` (Fashion-MNIST offline) with the MNIST-C
  corruptions of `robustkit.data.corruptions`.
- ``rotation``: bundles (x, x rotated by theta, x rotated by 2 theta, label)
  with theta ~ U[-theta_max, theta_max] degrees per example, seeded (the 1-D
  rotation design after Wong & Kolter, 2020).

Splits (``data.splits``): ``fractions`` pools the source splits in ``pool``,
shuffles them with ``data.seed`` and cuts train/val/test by ``fractions``
(70/15/15 of the MNIST-C test images in the rotation design); ``dataset`` keeps
the dataset's own train and test splits (val is test).

Images are kept as uint8 ``[N, H, W, 1]``; `make_pair_pipeline` batches them as
``{'image', 'perturbed'[, 'perturbed2', 'theta'], 'label'}`` with float32
images in [0, 1].
"""

import dataclasses
import logging
from typing import Dict, List, Optional

import numpy as np

from robustkit.data import DATASETS, PAIR_SOURCES, corruptions, load_split
from robustkit.data.options import CorruptedConfig  # noqa: F401  (re-exported)
from robustkit.data.options import MnistCorruptedConfig, PairDataConfig, RotationConfig, TfdsConfig
from robustkit.data.source import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class Pairs:
    """One split of pairs or bundles.

    Attributes:
      clean: x, uint8 [N, H, W, 1].
      corrupted: x', uint8 [N, H, W, 1] (x rotated by theta for bundles).
      labels: int64 [N], the class of x (and x').
      split: train, val or test.
      class_names: names by class id.
      corrupted2: bundles only: x rotated by 2 theta.
      theta: bundles only: theta in degrees, float32 [N].
    """

    clean: np.ndarray
    corrupted: np.ndarray
    labels: np.ndarray
    split: str
    class_names: List[str]
    corrupted2: Optional[np.ndarray] = None
    theta: Optional[np.ndarray] = None

    @property
    def num_examples(self) -> int:
        return len(self.labels)

    @property
    def is_bundle(self) -> bool:
        return self.corrupted2 is not None


def _arrays(source) -> Dict[str, np.ndarray]:
    """All of a `Source` as numpy arrays, in its order."""
    images, labels = [], []
    for batch in source.dataset.batch(4096).as_numpy_iterator():
        images.append(batch["image"])
        labels.append(batch["label"])
    if not images:
        return {"image": np.zeros((0,) + tuple(source.image_shape), np.uint8), "label": np.zeros([0], np.int64)}
    return {"image": np.concatenate(images), "label": np.concatenate(labels).astype(np.int64)}


def _tfds(options: PairDataConfig, config: str, split: str):
    from robustkit.data.tfds_source import load_tfds  # Imports TensorFlow Datasets.

    download = getattr(options, "download", False)
    return load_tfds(TfdsConfig(builder=f"mnist_corrupted/{config}", dir=options.dir, download=download), split)


def _clean_split(options: PairDataConfig, dataset: str, split: str):
    """A split of the clean images as (arrays, class names)."""
    if dataset == "mnist_corrupted":
        source = _tfds(options, "identity", split)
    else:
        known = [n for n in DATASETS.names() if n in ("mnist", "fashion_mnist")] + ["mnist_corrupted"]
        if dataset not in known:
            raise DataError(f"data.dataset = {dataset!r}; pairs are built from {', '.join(known)}")
        source = load_split(DATASETS.options(dataset)(dir=options.dir), split)
    if len(source.image_shape) != 3 or source.image_shape[-1] != 1:
        raise DataError(f"data.dataset = {dataset!r} has images of shape {source.image_shape}; "
                        "pairs need grayscale images [H, W, 1]")
    return _arrays(source), source.class_names


def _cut(options: PairDataConfig, pooled: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Index arrays of train, val and test into the pooled arrays (see `_pool`)."""
    total = len(pooled["label"])
    if options.splits == "dataset":
        test = np.flatnonzero(pooled["split"] == 1)
        return {"train": np.flatnonzero(pooled["split"] == 0), "val": test, "test": test}
    order = np.random.default_rng(options.seed).permutation(total)
    n_train = int(round(options.fractions[0] * total))
    n_val = int(round(options.fractions[1] * total))
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}


def _source_splits(options: PairDataConfig) -> List[str]:
    return ["train", "test"] if options.splits == "dataset" else list(options.pool)


def _pool(options: PairDataConfig, load) -> Dict[str, np.ndarray]:
    """Concatenates ``load(split)`` over the source splits, remembering each example's split."""
    parts = [load(split) for split in _source_splits(options)]
    pooled = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    pooled["split"] = np.concatenate([np.full(len(p["label"]), i) for i, p in enumerate(parts)])
    return pooled


def _limited(options: PairDataConfig, split: str, index: np.ndarray) -> np.ndarray:
    limit = options.train_limit if split == "train" else options.eval_limit
    return index if limit is None else index[:limit]


def _load_mnist_corrupted(options: MnistCorruptedConfig) -> Dict[str, Pairs]:
    def load(split: str) -> Dict[str, np.ndarray]:
        clean = _arrays(_tfds(options, "identity", split))
        if options.corruption == "identity":
            return {"clean": clean["image"], "corrupted": clean["image"], "label": clean["label"]}
        corrupted = _arrays(_tfds(options, options.corruption, split))
        check_labels_agree(clean["label"], corrupted["label"], f"mnist_corrupted/{options.corruption}", split)
        return {"clean": clean["image"], "corrupted": corrupted["image"], "label": clean["label"]}

    pooled = _pool(options, load)
    names = [str(i) for i in range(10)]
    result = {}
    for split, index in _cut(options, pooled).items():
        index = _limited(options, split, index)
        result[split] = Pairs(pooled["clean"][index], pooled["corrupted"][index], pooled["label"][index], split, names)
    return result


def check_labels_agree(clean: np.ndarray, corrupted: np.ndarray, config: str, split: str) -> None:
    """Refuses to pair two configs whose labels differ in count or order.

    Raises:
      DataError: naming how many labels disagree and the first place they do.
    """
    if len(clean) != len(corrupted):
        raise DataError(f"refusing to pair mnist_corrupted/identity with {config} ({split}): they hold "
                        f"{len(clean)} and {len(corrupted)} examples")
    wrong = np.flatnonzero(clean != corrupted)
    if len(wrong):
        first = int(wrong[0])
        raise DataError(
            f"refusing to pair mnist_corrupted/identity with {config} ({split}): {len(wrong)} of {len(clean)} "
            f"labels disagree (first at example {first}: {clean[first]} vs {corrupted[first]}), so the two "
            "configs are not in the same order; re-prepare both from the same mnist_c.zip"
        )


def _load_local(options: PairDataConfig) -> Dict[str, Pairs]:
    names: List[str] = []

    def load(split: str) -> Dict[str, np.ndarray]:
        arrays, class_names = _clean_split(options, options.dataset, split)
        names[:] = class_names
        return {"clean": arrays["image"], "label": arrays["label"]}

    pooled = _pool(options, load)
    pooled["index"] = np.arange(len(pooled["label"]))
    result = {}
    for number, (split, index) in enumerate(_cut(options, pooled).items()):
        index = _limited(options, split, index)
        clean, labels = pooled["clean"][index], pooled["label"][index]
        if isinstance(options, RotationConfig):
            rng = np.random.default_rng([options.seed, number])
            theta = rng.uniform(-options.theta_max, options.theta_max, size=len(index)).astype(np.float32)
            result[split] = Pairs(clean, corruptions.rotate_batch(clean, theta), labels, split, list(names),
                                  corruptions.rotate_batch(clean, 2.0 * theta), theta)
        else:
            corrupted = _corrupt(options, clean, pooled["index"][index], len(pooled["label"]))
            result[split] = Pairs(clean, corrupted, labels, split, list(names))
        logger.info("%s %s: %d examples", options.name, split, len(index))
    return result


def dealt_corruptions(options: CorruptedConfig, total: int) -> np.ndarray:
    """The index into ``options.corruptions`` of each of ``total`` pooled examples: equal shares, seeded."""
    return np.random.default_rng([options.seed, total]).permutation(total) % len(options.corruptions)


def _corrupt(options: CorruptedConfig, clean: np.ndarray, index: np.ndarray, total: int) -> np.ndarray:
    """x' of each example: ``options.corruption``, or its share of ``options.corruptions`` (dealt by seed)."""
    if not options.corruptions:
        return corruptions.corrupt(clean, options.corruption, seed=options.seed, severity=options.severity,
                                   indices=index)
    kinds = dealt_corruptions(options, total)
    out = np.empty_like(clean)
    for k, name in enumerate(options.corruptions):
        chosen = np.flatnonzero(kinds[index] == k)
        severity = options.severity if name in corruptions.DEFAULT_SEVERITY else None
        out[chosen] = corruptions.corrupt(clean[chosen], name, seed=options.seed, severity=severity,
                                          indices=index[chosen])
    return out


def load_pairs(options: PairDataConfig) -> Dict[str, Pairs]:
    """Loads the train, val and test splits of the pair source ``options.name``.

    Raises:
      robustkit.registry.RegistryError: for an unknown source.
      DataError: when the data cannot be found, is not grayscale, or the labels of
        two ``mnist_corrupted`` configs disagree.
    """
    return PAIR_SOURCES.get(options.name).builder(options)


def make_pair_pipeline(pairs: Pairs, batch_size: int, *, training: bool, seed: int,
                       shuffle_buffer: int = 10000, drop_remainder: bool = False):
    """Batches of ``{'image', 'perturbed'[, 'perturbed2', 'theta'], 'label'}``, images float32 in [0, 1].

    Args:
      pairs: one split.
      batch_size: examples per batch (global).
      training: shuffle (seeded, reshuffled every pass).
      seed: seeds the shuffle.
      shuffle_buffer: examples in the shuffle buffer.
      drop_remainder: drop a last, smaller batch.
    """
    import tensorflow as tf

    arrays = {"image": pairs.clean, "perturbed": pairs.corrupted, "label": pairs.labels.astype(np.int64)}
    if pairs.is_bundle:
        arrays.update(perturbed2=pairs.corrupted2, theta=pairs.theta.astype(np.float32))
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def to_float(batch):
        return {k: tf.cast(v, tf.float32) / 255.0 if k.startswith(("image", "perturbed")) else v
                for k, v in batch.items()}

    return dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
