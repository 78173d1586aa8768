"""A corrupted test set: every corruption at every severity of a set of clean images, built once.

The MNIST-C corruptions (`robustkit.data.corruptions`; Mu & Gilmer, 2019) are
applied to the same clean images in the manner of ImageNet-C and CIFAR-10-C
(Hendrycks & Dietterich, 2019): one block of images per (corruption,
severity), the identity once, the corruptions without severities once each.

Determinism and parallelism. Image ``i`` draws from ``default_rng([seed,
i])`` whatever the chunk it is computed in, so the blocks are cut into chunks
of images and corrupted in a pool of processes, and the result is the same
for any number of workers or any chunk size.

Cache. A built set is stored under ``<cache root>/<key>/`` (``images.npy``,
``[K, N, H, W, C]``, and ``manifest.json``), where ``key`` hashes the source
of the corruptions, the seed, the blocks and the clean images: a changed
implementation, seed, list or image set makes a new key. The directory is
written under a temporary name and renamed when complete
(`robustkit.outputs.atomic_dir`), so an interrupted build leaves no directory
under the key and the next run builds again; a second run reads the stored
images (memory-mapped).

Stored sets. TFDS ``mnist_corrupted`` (one config per corruption, at MNIST-C's
severity) and ``cifar10_corrupted`` (configs ``<corruption>_<severity>``) are
read with `robustkit.data.tfds_source` when they are prepared offline; the
error otherwise is that module's.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from robustkit import outputs, progress
from robustkit.data import corruptions
from robustkit.data.options import CORRUPTION_NAMES, DEFAULT_SEVERITY, TfdsConfig

logger = logging.getLogger(__name__)

FORMAT = 1  # Bumped when the stored layout changes, which changes every key.
Entry = Tuple[str, Optional[int]]  # (corruption, severity); severity None: applied one way.


@dataclasses.dataclass
class CorruptedSet:
    """Blocks of corrupted images of the same N examples.

    Attributes:
      entries: (corruption, severity) of each block, in order.
      images: ``[K, N, H, W, C]``, uint8 (or float32 in [0, 1]); may be memory-mapped.
      labels: int64 ``[N]``; every block holds the same examples in the same order.
      source: ``built``, ``cache`` or ``tfds:<name>``.
      seconds: time spent building or reading.
      path: the cache directory (None when not cached).
    """

    entries: List[Entry]
    images: np.ndarray
    labels: np.ndarray
    source: str
    seconds: float = 0.0
    path: Optional[str] = None

    def block(self, index: int) -> np.ndarray:
        """The images of block ``index`` as an array in memory."""
        return np.asarray(self.images[index])


def entries(names: Sequence[str], severities: Sequence[int]) -> List[Entry]:
    """The blocks of ``names``: one per severity for corruptions that have severities, else one."""
    out: List[Entry] = []
    for name in names:
        if name in DEFAULT_SEVERITY:
            out += [(name, int(s)) for s in severities]
        else:
            out.append((name, None))
    return out


def default_cache_root(data_dir: Optional[str] = None) -> str:
    """``<data_dir>/robustkit_corrupted`` when that is writable, else beside Keras's datasets."""
    if data_dir and os.access(data_dir, os.W_OK):
        return os.path.join(data_dir, "robustkit_corrupted")
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets", "robustkit_corrupted")


def cache_key(images: np.ndarray, blocks: Sequence[Entry], seed: int) -> str:
    """A hash of everything the set depends on: the implementation, the seed, the blocks and the images."""
    digest = hashlib.sha256()
    with open(corruptions.__file__, "rb") as f:
        digest.update(f.read())
    digest.update(json.dumps({"format": FORMAT, "seed": int(seed), "entries": [list(e) for e in blocks],
                              "default_severity": DEFAULT_SEVERITY, "dtype": str(images.dtype),
                              "shape": list(images.shape)}, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()[:24]


def _corrupt_chunk(images: np.ndarray, name: str, severity: Optional[int], seed: int, start: int) -> np.ndarray:
    return corruptions.corrupt(images, name, seed=seed, severity=severity,
                               indices=np.arange(start, start + len(images)))


def _tasks(count: int, blocks: Sequence[Entry], chunk: int):
    for k, (name, severity) in enumerate(blocks):
        if name == "identity":
            continue
        for start in range(0, count, chunk):
            yield k, name, severity, start, min(start + chunk, count)


def _fill(out: np.ndarray, images: np.ndarray, blocks: Sequence[Entry], seed: int, workers: int,
          chunk: Optional[int]) -> None:
    """Writes every block into ``out`` ``[K, N, ...]``, chunk by chunk, in ``workers`` processes."""
    count = len(images)
    for k, (name, _) in enumerate(blocks):
        if name == "identity":
            out[k] = images
    chunk = chunk or max(1, min(2500, -(-count // (4 * workers))))
    tasks = list(_tasks(count, blocks, chunk))
    with progress.Stage(f"corrupting {count} images ({len(blocks)} blocks, {workers} processes)",
                        sum(stop - start for _, _, _, start, stop in tasks), "images") as stage:
        if workers == 1:
            for k, name, severity, start, stop in tasks:
                out[k, start:stop] = _corrupt_chunk(images[start:stop], name, severity, seed, start)
                stage.advance(stop - start, {"corruption": name})
            return
        # Spawned, not forked: a fork of a process running TensorFlow's thread pools may deadlock.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(_corrupt_chunk, images[start:stop], name, severity, seed, start):
                       (k, name, start, stop) for k, name, severity, start, stop in tasks}
            for future in concurrent.futures.as_completed(futures):
                k, name, start, stop = futures[future]
                out[k, start:stop] = future.result()
                stage.advance(stop - start, {"corruption": name})


def build(images: np.ndarray, labels: np.ndarray, blocks: Sequence[Entry], seed: int = 0, *,
          workers: Optional[int] = None, chunk: Optional[int] = None) -> CorruptedSet:
    """Builds the set in memory, without a cache.

    Args:
      images: the clean images, uint8 or float in [0, 1], grayscale ``[N, H, W, 1]``.
      labels: their classes.
      blocks: (corruption, severity) pairs (`entries`).
      seed: with each image's index, determines every random draw.
      workers: processes (None: the cores this process may use).
      chunk: images per task (None: a quarter of a block per worker, at most 2500).
    """
    started = time.perf_counter()
    _check(images, blocks)
    out = np.empty((len(blocks),) + images.shape, images.dtype)
    _fill(out, images, blocks, seed, _workers(workers), chunk)
    return CorruptedSet(list(blocks), out, np.asarray(labels, np.int64), "built", time.perf_counter() - started)


def load_or_build(images: np.ndarray, labels: np.ndarray, blocks: Sequence[Entry], seed: int, cache_root: str, *,
                  workers: Optional[int] = None, chunk: Optional[int] = None) -> CorruptedSet:
    """The set from ``cache_root`` when stored there whole, else built into it (see the module docstring)."""
    started = time.perf_counter()
    _check(images, blocks)
    key = cache_key(images, blocks, seed)
    path = os.path.join(cache_root, key)
    stored = _read(path, len(blocks), images)
    if stored is not None:
        logger.info("corrupted set: %d blocks read from %s", len(blocks), path)
        return CorruptedSet(list(blocks), stored, np.asarray(labels, np.int64), "cache",
                            time.perf_counter() - started, path)
    workers = _workers(workers)
    logger.info("corrupted set: building %d blocks of %d images in %d process(es) into %s", len(blocks),
                len(images), workers, path)
    with outputs.atomic_dir(path, overwrite=True) as tmp:
        manifest = {"format": FORMAT, "seed": int(seed), "entries": [list(e) for e in blocks],
                    "shape": [len(blocks), *images.shape], "dtype": str(images.dtype)}
        with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f)
        out = np.lib.format.open_memmap(os.path.join(tmp, "images.npy"), mode="w+", dtype=images.dtype,
                                        shape=(len(blocks),) + images.shape)
        _fill(out, images, blocks, seed, workers, chunk)
        out.flush()
        del out
    stored = _read(path, len(blocks), images)
    return CorruptedSet(list(blocks), stored, np.asarray(labels, np.int64), "built", time.perf_counter() - started,
                        path)


def _read(path: str, count: int, images: np.ndarray) -> Optional[np.ndarray]:
    """The stored images, or None when ``path`` does not hold a whole set of the expected shape."""
    try:
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        stored = np.load(os.path.join(path, "images.npy"), mmap_mode="r")
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or stored.shape != (count,) + images.shape or stored.dtype != images.dtype:
        logger.warning("ignoring the corrupted-set cache %s: it does not hold %d blocks of %s %s", path, count,
                       images.dtype, images.shape)
        return None
    return stored


def _workers(workers: Optional[int]) -> int:
    if workers is not None:
        return max(1, int(workers))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _check(images: np.ndarray, blocks: Sequence[Entry]) -> None:
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"the MNIST-C corruptions take grayscale images [N, H, W, 1], got shape {images.shape}; "
                         "for colour images use a stored set (cifar10_corrupted)")
    for name, severity in blocks:
        if name not in CORRUPTION_NAMES:
            raise ValueError(f"unknown corruption {name!r}; known corruptions: {', '.join(CORRUPTION_NAMES)}")
        if (severity is None) != (name not in DEFAULT_SEVERITY):
            raise ValueError(f"corruption {name!r} with severity {severity}: only {', '.join(DEFAULT_SEVERITY)} "
                             "have severities")


def stored_entries(dataset: str, names: Sequence[str], severities: Sequence[int]) -> List[Entry]:
    """The blocks a stored set offers for ``names``: mnist_corrupted at MNIST-C's severity, cifar10 at each."""
    if dataset == "mnist_corrupted":
        return [(n, DEFAULT_SEVERITY.get(n)) for n in names]
    return [("identity", None) if n == "identity" else (n, int(s)) for n in names
            for s in ([None] if n == "identity" else severities)]


def load_stored(dataset: str, blocks: Sequence[Entry], clean: Tuple[np.ndarray, np.ndarray], *,
                data_dir: Optional[str] = None, limit: Optional[int] = None) -> CorruptedSet:
    """Reads the blocks of TFDS ``mnist_corrupted`` or ``cifar10_corrupted`` (test split).

    The identity block is ``clean`` (the evaluation images and labels), so its
    accuracy is the clean accuracy; every other block is read from its TFDS
    config and must hold as many examples with the same labels.

    Raises:
      robustkit.data.source.DataError: the TFDS offline message when a config is not prepared, or
        labels that disagree with the clean ones.
    """
    from robustkit.data.tfds_source import load_tfds  # Imports TensorFlow.

    started = time.perf_counter()
    clean_images, clean_labels = clean
    out = np.empty((len(blocks),) + clean_images.shape, np.uint8)
    for k, (name, severity) in enumerate(blocks):
        if name == "identity":
            out[k] = clean_images
            continue
        config = name if dataset == "mnist_corrupted" else f"{name}_{severity}"
        source = load_tfds(TfdsConfig(builder=f"{dataset}/{config}", dir=data_dir), "test", limit)
        batches = list(source.dataset.batch(4096).as_numpy_iterator())
        arrays = {key: np.concatenate([b[key] for b in batches]) for key in ("image", "label")}
        _agree(dataset, config, arrays, clean_images, clean_labels)
        out[k] = arrays["image"]
    return CorruptedSet(list(blocks), out, np.asarray(clean_labels, np.int64), f"tfds:{dataset}",
                        time.perf_counter() - started)


def _agree(dataset: str, config: str, arrays: Dict[str, np.ndarray], images: np.ndarray, labels: np.ndarray):
    from robustkit.data.source import DataError

    if arrays["image"].shape != images.shape:
        raise DataError(f"{dataset}/{config} holds images {arrays['image'].shape} but the evaluation images are "
                        f"{images.shape}; set data to the clean split of the same dataset (e.g. data.name: tfds, "
                        f"data.builder: {'mnist_corrupted/identity' if dataset == 'mnist_corrupted' else 'cifar10'})")
    wrong = int(np.sum(arrays["label"] != labels))
    if wrong:
        raise DataError(f"{dataset}/{config}: {wrong} of {len(labels)} labels differ from the evaluation labels, so "
                        "the corrupted images are not the evaluation images in the same order")
