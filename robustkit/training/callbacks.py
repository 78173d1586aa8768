"""Keras callbacks a training run uses, chosen per worker."""

import logging
import os
import time
from typing import List, Optional

import tensorflow as tf
import tf_keras as keras

from robustkit import distribute, watchdog
from robustkit.training.config import ScheduleConfig, TrainJob
from robustkit.training.phases import PhaseController
from robustkit.training.schedules import OneCycle

log = logging.getLogger(__name__)


class Throughput(keras.callbacks.Callback):
    """Training examples per second, excluding validation."""

    def __init__(self, global_batch: int):
        super().__init__()
        self.global_batch = global_batch
        self.epoch_rates: List[float] = []
        self._start = 0.0
        self._steps = 0
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0
        self._seconds = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._seconds = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        if self._seconds > 0:
            rate = self._steps * self.global_batch / self._seconds
            self.epoch_rates.append(rate)
            if logs is not None:
                logs["examples_per_second"] = rate

    @property
    def examples_per_second(self) -> float:
        """The median over epochs after the first (which includes graph tracing)."""
        rates = sorted(self.epoch_rates[1:] or self.epoch_rates)
        return float(rates[len(rates) // 2]) if rates else 0.0


def schedule_callbacks(schedule: ScheduleConfig, learning_rate: float = 0.01) -> list:
    """The learning-rate callbacks of a ``train.schedule`` section (``learning_rate``: cyclic's peak)."""
    if schedule.name == "cyclic":
        return [OneCycle(learning_rate, schedule.peak)]
    if schedule.name == "plateau":
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=schedule.monitor,
                factor=schedule.factor,
                patience=schedule.patience,
                min_delta=schedule.min_delta,
                min_lr=schedule.min_lr,
                verbose=1,
            )
        ]
    if schedule.name == "piecewise":
        boundaries, values = list(schedule.boundaries), list(schedule.values)

        def rate(epoch: int, lr: float) -> float:
            return float(values[sum(1 for b in boundaries if epoch >= b)])

        return [keras.callbacks.LearningRateScheduler(rate)]
    return []


def run_state_paths(run_dir: str) -> dict:
    """Files a run keeps between a crash and its resumption."""
    return {"backup": os.path.join(run_dir, "backup"), "phases": os.path.join(run_dir, "phases.json")}


def is_resuming(run_dir: str) -> bool:
    """Whether ``run_dir`` holds an interrupted run's state.

    Keras keeps the chief's state in ``backup/chief`` and removes it when
    training completes, so one left behind means the run was interrupted.
    """
    return os.path.isdir(os.path.join(run_state_paths(run_dir)["backup"], "chief"))


def make_callbacks(
    job: TrainJob,
    strategy: tf.distribute.Strategy,
    throughput: Throughput,
    base_model: keras.Model,
    resuming: bool,
    guard: Optional[keras.callbacks.Callback] = None,
) -> list:
    """Phases, schedules, checkpointing, resumption, logs and NaN termination for one worker.

    ``guard`` (a `schedules.OverfitGuard`) runs before the checkpoint and the
    history log, so that its check is logged and a rollback is what is saved.
    """
    run_dir = job.run.dir
    chief = distribute.is_chief(strategy)
    paths = run_state_paths(run_dir)
    schedules = schedule_callbacks(job.train.schedule, job.train.learning_rate)
    callbacks = []
    if job.train.phases:
        plateaus = [cb for cb in schedules if isinstance(cb, keras.callbacks.ReduceLROnPlateau)]
        callbacks.append(PhaseController(job.train.phases, base_model, paths["phases"], chief, plateaus))
    callbacks += schedules
    callbacks += [
        # Every worker passes the same directory; Keras gives non-chiefs their own.
        keras.callbacks.BackupAndRestore(paths["backup"]),
        keras.callbacks.TerminateOnNaN(),
        watchdog.beats(),
        throughput,
    ]
    if guard is not None:
        callbacks.append(guard)
    if job.train.checkpoint:
        ckpt_dir = distribute.write_dir(os.path.join(run_dir, "checkpoints"), strategy)
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                os.path.join(ckpt_dir, "best"),
                monitor="val_accuracy",
                mode="max",
                save_best_only=True,
                save_weights_only=True,
            )
        )
    if chief:
        # A resumed run appends to its history; a fresh one starts it anew.
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=resuming))
        if job.train.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"), write_graph=False))
    return callbacks
