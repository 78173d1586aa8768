"""Fits a classifier from a `TrainJob` and writes the run's outputs."""

import csv
import dataclasses
import json
import logging
import math
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, outputs, versions, watchdog
from robustkit.data import load_split, make_pipeline
from robustkit.generative.perturbation import load_perturbation_set
from robustkit.models import build_model
from robustkit.training import adversarial, init_from, learned_set, methods, phases, plots, schedules
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
    model: Optional[keras.Model] = None  # The trained classifier (its variables are the strategy's)


def _optimizer(job: TrainJob) -> keras.optimizers.Optimizer:
    train = job.train
    if train.optimizer == "adam":
        return keras.optimizers.Adam(train.learning_rate)
    return keras.optimizers.SGD(train.learning_rate, momentum=train.momentum)


def build_trainer(job: TrainJob, num_classes: int, channels: int, perturbation_set=None, steps_per_epoch: int = 0,
                  initial: Optional[keras.Model] = None) -> Tuple[keras.Model, keras.Model]:
    """Builds and compiles the model and what fits it (call inside the strategy's scope).

    Returns:
      ``(model, trainer)``: the classifier, and the model to call ``fit`` on, which
      is the NSL wrapper around it for adversarial method nsl, the
      `methods.RobustTrainer` for pgd, trades and fast (``steps_per_epoch``
      sizes its epsilon warm-up), or the `learned_set.LearnedSetTrainer` when
      training against a learned set (``perturbation_set``, loaded from
      ``job.learned_set.path`` when not given). The classifier starts from
      ``initial``'s weights when given (``train.init_from``, loaded by
      `init_from.load_source`).
    """
    model = build_model(job.model, num_classes=num_classes, channels=channels)
    if initial is not None:
        init_from.copy_weights(model, initial, job.train.init_from)
    optimizer = _optimizer(job)
    trainer = model
    if job.adversarial.uses_nsl:
        trainer = adversarial.wrap(model, job.adversarial)
    elif job.adversarial.enabled:
        warmup = job.adversarial.epsilon_warmup_epochs * steps_per_epoch
        trainer = methods.wrap(model, job.adversarial, job.run.seed, warmup)
    elif job.learned_set.enabled:
        if perturbation_set is None:
            perturbation_set = load_perturbation_set(job.learned_set.path)
        trainer = learned_set.wrap(model, perturbation_set, job.learned_set, job.run.seed)
    trainer.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    if job.adversarial.uses_nsl:
        adversarial.build(trainer)  # BackupAndRestore needs built weights.
    if job.train.phases:
        phases.prepare_optimizer(model, optimizer)
    return model, trainer


def _datasets(job: TrainJob):
    data, train = job.data, job.train
    train_src = load_split(data, data.train_split, data.train_limit)
    eval_src = load_split(data, data.eval_split, data.eval_limit)
    if train.steps_per_epoch is None and train_src.num_examples < train.batch_size:
        raise config_lib.ConfigError(
            f"train.batch_size = {train.batch_size} exceeds the {train_src.num_examples} training examples "
            f"of {data.name}:{data.train_split}; lower the batch size or raise data.train_limit"
        )
    common = dict(
        seed=job.run.seed, image_size=job.model.input_size, cache=data.cache, shuffle_buffer=data.shuffle_buffer
    )
    train_ds = make_pipeline(
        train_src, train.batch_size, training=True, augment=data.augment, drop_remainder=True, **common
    )
    if train.steps_per_epoch is not None:
        train_ds = train_ds.repeat()
    eval_ds = make_pipeline(eval_src, train.batch_size, training=False, **common)
    if not job.adversarial.uses_nsl:  # The NSL wrapper takes the dicts as they are.
        train_ds, eval_ds = _features_and_labels(train_ds), _features_and_labels(eval_ds)
    return train_src, eval_src, train_ds, eval_ds


def _features_and_labels(dataset):
    """``{'image', 'label'}`` batches -> the ``(features, labels)`` pairs `Model.fit` takes."""
    return dataset.map(lambda batch: ({"image": batch["image"]}, batch["label"]))


def _clear_stale_state(job: TrainJob) -> None:
    """A fresh run starts without an earlier run's phase record."""
    path = callbacks_lib.run_state_paths(job.run.dir)["phases"]
    if os.path.isfile(path):
        os.remove(path)


def _phase_starts(job: TrainJob) -> List[int]:
    path = callbacks_lib.run_state_paths(job.run.dir)["phases"]
    if not job.train.phases or not os.path.isfile(path):
        return [0]
    with open(path, encoding="utf-8") as f:
        return json.load(f)["phase_starts"]


def run_training(job: TrainJob) -> TrainResult:
    """Trains ``job``'s model on its data and exports it.

    Writes ``config.yaml``, ``history.csv``, ``metrics.json`` and
    ``training_curves.png`` to ``job.run.dir`` (on the chief only) and the base
    model as a SavedModel to ``<export.dir>/<export.name>/<n>/``. Restarted with
    the same config after a crash, it resumes from the last completed epoch.
    """
    strategy = distribute.make_strategy(job.distribute)  # First: it may configure the runtime.
    keras.utils.set_random_seed(job.run.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(job.train.precision)
    try:
        with watchdog.Watchdog(job.distribute.stall_timeout, "training"):
            return _train(job, strategy)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(job: TrainJob, strategy) -> TrainResult:
    # Loaded before anything is written, so a bad path fails first, and after the
    # strategy, which must configure the runtime before anything starts it.
    perturbation_set = load_perturbation_set(job.learned_set.path) if job.learned_set.enabled else None
    initial_path, initial = init_from.load_source(job.train.init_from) if job.train.init_from else (None, None)
    chief = distribute.is_chief(strategy)
    resuming = callbacks_lib.is_resuming(job.run.dir)
    if resuming:
        log.info("resuming %s from its last completed epoch (state in %s)", job.run.dir,
                 callbacks_lib.run_state_paths(job.run.dir)["backup"])
    os.makedirs(job.run.dir, exist_ok=True)
    if chief:
        config_lib.save(job, os.path.join(job.run.dir, "config.yaml"))
        if not resuming:
            _clear_stale_state(job)

    train_src, eval_src, train_ds, eval_ds = _datasets(job)
    with strategy.scope():
        steps = job.train.steps_per_epoch or train_src.num_examples // job.train.batch_size
        model, trainer = build_trainer(job, train_src.num_classes, train_src.image_shape[-1], perturbation_set, steps,
                                       initial)
    if initial is not None:
        log.info("initialised %s from %s", model.name, initial_path)
        del initial
    guard = schedules.guard_for(job, train_ds, model)
    throughput = callbacks_lib.Throughput(job.train.batch_size)
    history = trainer.fit(
        train_ds,
        epochs=job.train.epochs,
        steps_per_epoch=job.train.steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=job.train.validation_steps,
        callbacks=callbacks_lib.make_callbacks(job, strategy, throughput, model, resuming, guard),
        verbose=1 if job.train.progress and sys.stdout.isatty() else 2,
    )
    backup_dir = callbacks_lib.run_state_paths(job.run.dir)["backup"]
    if chief and os.path.isdir(backup_dir) and not os.listdir(backup_dir):
        os.rmdir(backup_dir)  # Keras empties it when training completes.
    final = {key: float(values[-1]) for key, values in history.history.items() if values}
    for key, value in final.items():
        if not math.isfinite(value):
            raise FloatingPointError(f"training diverged: final {key} = {value}; see {job.run.dir}/history.csv")

    export_path = export_model(
        model, os.path.join(job.export.dir, job.export.name), train_src.class_names, strategy, train_src.class_ids
    )
    # With NSL, "loss" adds the adversarial term; the classification loss alone is
    # reported as train_loss/val_loss so that base and robust runs compare.
    clean = "sparse_categorical_crossentropy" if job.adversarial.uses_nsl else "loss"
    metrics = {
        "train_loss": final.get(clean),
        "train_accuracy": final.get("accuracy"),
        "val_loss": final.get(f"val_{clean}"),
        "val_accuracy": final.get("val_accuracy"),
        "epochs": job.train.epochs,
        "phase_starts": _phase_starts(job),
        "adversarial": job.adversarial.enabled,
        "precision": model.dtype_policy.name,  # the policy the model was built under
        "examples_per_second": throughput.examples_per_second,
        "train_examples": train_src.num_examples,
        "eval_examples": eval_src.num_examples,
        "replicas": strategy.num_replicas_in_sync,
        "strategy": job.distribute.strategy,
        "strategy_class": type(strategy).__name__,
        "init_from": initial_path,
        "export": export_path,
        "versions": versions.library_versions(),
    }
    if job.learned_set.enabled:
        metrics["learned_set"] = {"mode": job.learned_set.mode, "path": job.learned_set.path,
                                  "radius": job.learned_set.radius, "weight": job.learned_set.weight}
        metrics["train_perturbed_accuracy"] = final.get("perturbed_accuracy")
    if job.adversarial.enabled:
        metrics.update(schedules.adversarial_metrics(job.adversarial, final, guard))
    if chief:
        outputs.write_json(os.path.join(job.run.dir, "metrics.json"), metrics)
        plots.training_curves(_full_history(job, history.history), metrics["phase_starts"],
                              os.path.join(job.run.dir, "training_curves.png"))
    return TrainResult(job.run.dir, export_path, metrics, model)


def _full_history(job: TrainJob, fallback: Dict[str, list]) -> Dict[str, list]:
    """The whole run's history from history.csv (a resumed fit only holds its own epochs)."""
    path = os.path.join(job.run.dir, "history.csv")
    if not os.path.isfile(path):
        return fallback
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in keys}
