"""Fits a classifier from a `TrainJob` and writes the run's outputs."""

import dataclasses
import logging
import math
import os
import sys
from typing import Any, Dict, Optional

import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, outputs, versions
from robustkit.data import load_split, make_pipeline
from robustkit.models import build_model
from robustkit.training import callbacks as callbacks_lib
from robustkit.training.config import TrainJob
from robustkit.training.export import export_model

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What a finished run produced."""

    run_dir: str
    export_path: Optional[str]  # None on non-chief workers
    metrics: Dict[str, Any]


def _optimizer(job: TrainJob) -> keras.optimizers.Optimizer:
    train = job.train
    if train.optimizer == "adam":
        return keras.optimizers.Adam(train.learning_rate)
    return keras.optimizers.SGD(train.learning_rate, momentum=train.momentum)


def _datasets(job: TrainJob):
    data, train = job.data, job.train
    train_src = load_split(data, data.train_split, data.train_limit)
    eval_src = load_split(data, data.eval_split, data.eval_limit)
    size = job.model.input_size
    common = dict(seed=job.run.seed, image_size=size, cache=data.cache, shuffle_buffer=data.shuffle_buffer)
    train_ds = make_pipeline(
        train_src, train.batch_size, training=True, augment=data.augment, drop_remainder=True, **common
    )
    if train.steps_per_epoch is not None:
        train_ds = train_ds.repeat()
    elif train_src.num_examples < train.batch_size:
        raise config_lib.ConfigError(
            f"train.batch_size = {train.batch_size} exceeds the {train_src.num_examples} training examples "
            f"of {data.name}:{data.train_split}; lower the batch size or raise data.train_limit"
        )
    eval_ds = make_pipeline(eval_src, train.batch_size, training=False, **common)
    return train_src, eval_src, _features_and_labels(train_ds), _features_and_labels(eval_ds)


def _features_and_labels(dataset):
    """``{'image', 'label'}`` batches -> the ``(features, labels)`` pairs `Model.fit` takes."""
    return dataset.map(lambda batch: ({"image": batch["image"]}, batch["label"]))


def run_training(job: TrainJob) -> TrainResult:
    """Trains ``job``'s model on its data and exports it.

    Writes ``config.yaml``, ``history.csv`` and ``metrics.json`` to ``job.run.dir``
    (on the chief only) and the SavedModel to ``<export.dir>/<export.name>/<n>/``.
    Restarted with the same config after a crash, it resumes from the last epoch.
    """
    strategy = distribute.make_strategy(job.distribute)  # First: it may configure the runtime.
    keras.utils.set_random_seed(job.run.seed)
    keras.mixed_precision.set_global_policy(job.train.precision)
    chief = distribute.is_chief(strategy)
    os.makedirs(job.run.dir, exist_ok=True)
    if chief:
        config_lib.save(job, os.path.join(job.run.dir, "config.yaml"))

    train_src, eval_src, train_ds, eval_ds = _datasets(job)
    channels = train_src.image_shape[-1]
    with strategy.scope():
        model = build_model(job.model, num_classes=train_src.num_classes, channels=channels)
        model.compile(
            optimizer=_optimizer(job),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    throughput = callbacks_lib.Throughput(job.train.batch_size)
    verbose = 1 if job.train.progress and sys.stdout.isatty() else 2
    history = model.fit(
        train_ds,
        epochs=job.train.epochs,
        steps_per_epoch=job.train.steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=job.train.validation_steps,
        callbacks=callbacks_lib.make_callbacks(job, strategy, throughput),
        verbose=verbose,
    )
    final = {key: float(values[-1]) for key, values in history.history.items() if values}
    for key, value in final.items():
        if not math.isfinite(value):
            raise FloatingPointError(f"training diverged: final {key} = {value}; see {job.run.dir}/history.csv")

    export_root = os.path.join(job.export.dir, job.export.name)
    export_path = export_model(model, export_root, train_src.class_names, strategy)
    metrics = {
        "train_loss": final.get("loss"),
        "train_accuracy": final.get("accuracy"),
        "val_loss": final.get("val_loss"),
        "val_accuracy": final.get("val_accuracy"),
        "epochs": job.train.epochs,
        "examples_per_second": throughput.examples_per_second,
        "train_examples": train_src.num_examples,
        "eval_examples": eval_src.num_examples,
        "replicas": strategy.num_replicas_in_sync,
        "strategy": job.distribute.strategy,
        "strategy_class": type(strategy).__name__,
        "export": export_path,
        "versions": versions.library_versions(),
    }
    if chief:
        outputs.write_json(os.path.join(job.run.dir, "metrics.json"), metrics)
    return TrainResult(job.run.dir, export_path, metrics)
