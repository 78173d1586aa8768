"""The corruption benchmark of ``validate_adv``: accuracy per corruption and severity, and mCE.

Hendrycks & Dietterich (2019), "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations", with the MNIST-C corruptions of Mu &
Gilmer (2019). With ``E^f_{s,c}`` the error of model ``f`` on corruption ``c``
at severity ``s`` and ``E^f_clean`` its clean error:

- corruption error ``CE^f_c = sum_s E^f_{s,c} / sum_s E^base_{s,c}``;
- relative corruption error ``rCE^f_c = sum_s (E^f_{s,c} - E^f_clean) /
  sum_s (E^base_{s,c} - E^base_clean)``;
- ``mCE`` and relative mCE: their means over the corruptions, identity excluded;
- mean corruption accuracy: the mean over the corruptions (identity excluded)
  of each corruption's mean accuracy over its severities.

A corruption without severities counts its one block as its only severity.
An undefined ratio (the baseline makes no error on a corruption) is NaN, and
so is any mean over it; the records write it as null.

Every model is scored on the same corrupted images (`robustkit.data.corrupted_set`),
block by block, in batches through one compiled function per model that takes
the stored uint8 images and scales them on the way in.
"""

import dataclasses
import logging
import math
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from robustkit import progress
from robustkit.data import corrupted_set
from robustkit.data.corrupted_set import Entry
from robustkit.evaluation.corruption_options import CorruptionsConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass
class CorruptionResults:
    """What the benchmark measured.

    Attributes:
      entries: (corruption, severity) of each block; severity None for a corruption applied one way.
      accuracy: model -> accuracy on each block, in ``entries`` order.
      clean: model -> accuracy on the clean evaluation images.
      baseline: the model mCE is relative to.
      examples: examples per block.
      seed: the corruptions' seed.
      source: ``built``, ``cache`` or ``tfds:<name>``.
      groups: label -> corruptions reported together.
      build_seconds: time to build or read the set.
      score_seconds: time to score every model on every block.
      cache_path: where the set is stored (None: not cached).
    """

    entries: List[Entry]
    accuracy: Dict[str, List[float]]
    clean: Dict[str, float]
    baseline: str
    examples: int
    seed: int
    source: str
    groups: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
    build_seconds: float = 0.0
    score_seconds: float = 0.0
    cache_path: Optional[str] = None

    @property
    def models(self) -> List[str]:
        return list(self.accuracy)

    @property
    def images_per_second(self) -> float:
        """Model-images scored per second (every model counted)."""
        total = self.examples * len(self.entries) * len(self.accuracy)
        return total / self.score_seconds if self.score_seconds > 0 else math.inf

    def corruptions(self) -> List[str]:
        """The corruptions, in order, identity included when scored."""
        return list(dict.fromkeys(name for name, _ in self.entries))

    def summary(self, model: str, members: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """Mean corruption accuracy, mCE and relative mCE of ``model`` over ``members`` (None: all)."""
        return summarize(self.entries, self.accuracy[model], self.clean[model], self.accuracy[self.baseline],
                         self.clean[self.baseline], members)


def _errors(entries: Sequence[Entry], accuracy: Sequence[float]) -> Dict[str, List[float]]:
    """corruption -> its errors over severities, identity left out."""
    out: Dict[str, List[float]] = {}
    for (name, _), acc in zip(entries, accuracy):
        if name != "identity":
            out.setdefault(name, []).append(1.0 - float(acc))
    return out


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else math.nan


def summarize(entries: Sequence[Entry], accuracy: Sequence[float], clean: float, baseline_accuracy: Sequence[float],
              baseline_clean: float, members: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """The benchmark's numbers for one model (the definitions in the module docstring).

    Args:
      entries: (corruption, severity) of each block.
      accuracy, baseline_accuracy: the model's and the baseline's accuracy on each block.
      clean, baseline_clean: their clean accuracies.
      members: the corruptions to average over (None: every one scored).

    Returns:
      ``mean_corruption_accuracy``, ``mce``, ``relative_mce``, and per corruption
      ``ce``, ``relative_ce`` and ``accuracy`` (the mean over severities).
    """
    mine, base = _errors(entries, accuracy), _errors(entries, baseline_accuracy)
    names = [n for n in mine if members is None or n in members]
    clean_error, base_clean_error = 1.0 - clean, 1.0 - baseline_clean
    ce = {n: _ratio(sum(mine[n]), sum(base[n])) for n in names}
    relative = {n: _ratio(sum(e - clean_error for e in mine[n]), sum(e - base_clean_error for e in base[n]))
                for n in names}
    mean_accuracy = {n: 1.0 - float(np.mean(mine[n])) for n in names}
    mean = (lambda values: float(np.mean(values)) if values else math.nan)
    return {"corruptions": names, "mean_corruption_accuracy": mean(list(mean_accuracy.values())),
            "mce": mean(list(ce.values())), "relative_mce": mean(list(relative.values())),
            "ce": ce, "relative_ce": relative, "accuracy": mean_accuracy}


def as_stored(images: np.ndarray) -> np.ndarray:
    """uint8 when the float images are exactly k / 255 (so storing them loses nothing), else float32."""
    as_uint8 = np.rint(np.asarray(images, np.float64) * 255.0).clip(0, 255).astype(np.uint8)
    if np.array_equal(as_uint8.astype(np.float32) / np.float32(255.0), images):
        return as_uint8
    return np.asarray(images, np.float32)


def _predictor(model):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    @tf.function(reduce_retracing=True)
    def predict(x):
        if x.dtype == tf.uint8:
            x = tf.cast(x, tf.float32) / 255.0
        return tf.argmax(model(x), axis=-1)

    return predict


def corrupted_images(options: CorruptionsConfig, images: np.ndarray, labels: np.ndarray,
                     data_dir: Optional[str] = None) -> corrupted_set.CorruptedSet:
    """The corrupted set of ``options`` for the evaluation images: built (cached) here, or read from TFDS."""
    names = options.resolved_names()
    stored = as_stored(images)
    if options.dataset is not None:
        blocks = corrupted_set.stored_entries(options.dataset, names, options.severities)
        return corrupted_set.load_stored(options.dataset, blocks, (stored, labels), data_dir=options.dir,
                                         limit=len(labels))
    if stored.shape[-1] != 1:
        from robustkit.config import ConfigError  # pylint: disable=import-outside-toplevel

        raise ConfigError(f"corruptions: the MNIST-C corruptions take grayscale images, but the evaluation images "
                          f"have {stored.shape[-1]} channels; set corruptions.dataset: cifar10_corrupted")
    blocks = corrupted_set.entries(names, options.severities)
    root = options.cache_dir or corrupted_set.default_cache_root(data_dir)
    return corrupted_set.load_or_build(stored, labels, blocks, options.seed, root, workers=options.workers)


def score(models: Dict[str, Any], corrupted: corrupted_set.CorruptedSet, clean_images: np.ndarray,
          batch_size: int) -> Dict[str, Any]:
    """Accuracy of every model on every block (and on the clean images), batch by batch.

    Returns:
      ``accuracy`` (model -> per block), ``clean`` (model -> accuracy) and ``seconds`` (block scoring only).
    """
    predictors = {name: _predictor(model) for name, model in models.items()}
    labels = corrupted.labels

    def accuracy(block: np.ndarray, stage: Optional[progress.Stage] = None) -> Dict[str, float]:
        correct = {name: 0 for name in models}
        for start in range(0, len(labels), batch_size):
            x, y = block[start:start + batch_size], labels[start:start + batch_size]
            for name, predict in predictors.items():
                correct[name] += int(np.sum(predict(x).numpy() == y))
            if stage is not None:
                done = min(start + batch_size, len(labels))
                stage.advance(done - start, {name: c / done for name, c in correct.items()})
        return {name: c / len(labels) for name, c in correct.items()}

    clean = accuracy(as_stored(clean_images))
    started = time.perf_counter()
    per_block: Dict[str, List[float]] = {name: [] for name in models}
    for k, (name, severity) in enumerate(corrupted.entries):
        begun = time.perf_counter()
        label = f"corruption {name}" + ("" if severity is None else f" severity {severity}")
        with progress.Stage(label, len(labels)) as stage:
            result = accuracy(corrupted.block(k), stage)
            stage.close(f"{label}: accuracy {', '.join(f'{m} {v:.4f}' for m, v in result.items())} "
                        f"({time.perf_counter() - begun:.1f}s)")
        for model, value in result.items():
            per_block[model].append(value)
    return {"accuracy": per_block, "clean": clean, "seconds": time.perf_counter() - started}


def evaluate(job, models: Dict[str, Any], images: np.ndarray, labels: np.ndarray) -> CorruptionResults:
    """Scores every model on the corrupted set of ``job.corruptions``.

    Args:
      job: the resolved `robustkit.evaluation.config.ValidateJob`; its ``corruptions`` section is set.
      models: name -> loaded model (`robustkit.models.loading.Model`).
      images, labels: the clean evaluation examples, float32 [N, H, W, C] in [0, 1] and int64 [N].

    Raises:
      robustkit.config.ConfigError: for a baseline that is not a model, or colour images without a stored set.
      robustkit.data.source.DataError: for a stored set that is not prepared or does not match the images.
    """
    options: CorruptionsConfig = job.corruptions
    options.check_models(models)
    corrupted = corrupted_images(options, images, np.asarray(labels, np.int64), job.data.dir)
    log.info("corrupted set: %d blocks of %d examples (%s, %.1fs)", len(corrupted.entries), len(labels),
             corrupted.source, corrupted.seconds)
    scored = score(models, corrupted, images, options.batch_size or job.batch_size)
    results = CorruptionResults(
        entries=corrupted.entries, accuracy=scored["accuracy"], clean=scored["clean"],
        baseline=options.baseline or next(iter(models)), examples=len(labels), seed=options.seed,
        source=corrupted.source, groups=dict(options.groups), build_seconds=corrupted.seconds,
        score_seconds=scored["seconds"], cache_path=corrupted.path)
    log.info("corruptions scored: %.0f model-images/s", results.images_per_second)
    return results
