"""Keras callbacks a training run uses, chosen per worker."""

import logging
import os
import time
from typing import List

import tensorflow as tf
import tf_keras as keras

from robustkit import distribute
from robustkit.training.config import TrainJob

log = logging.getLogger(__name__)


class Throughput(keras.callbacks.Callback):
    """Training examples per second, excluding validation and the first epoch's tracing."""

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
        rates = self.epoch_rates[1:] or self.epoch_rates
        return float(sorted(rates)[len(rates) // 2]) if rates else 0.0


def make_callbacks(job: TrainJob, strategy: tf.distribute.Strategy, throughput: Throughput) -> list:
    """Checkpointing, resumption, logs and NaN termination for one worker."""
    run_dir = job.run.dir
    chief = distribute.is_chief(strategy)
    callbacks = [
        # Every worker passes the same directory; Keras gives non-chiefs their own.
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.TerminateOnNaN(),
        throughput,
    ]
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
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True))
        if job.train.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"), write_graph=False))
    return callbacks
