"""Per-step training schedules: the one-cycle learning rate and the catastrophic-overfitting guard."""

import logging
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.attacks import base
from robustkit.training.adversarial_config import AdversarialConfig
from robustkit.training.methods import ascend

log = logging.getLogger(__name__)


def one_cycle_rate(step: int, total_steps: int, max_rate: float, peak: float) -> float:
    """The one-cycle rate at ``step``: linear from 0 up to ``max_rate`` at ``peak * total_steps``, then down to 0.

    Smith & Topin (2019), "Super-Convergence"; the piecewise-linear form of
    Wong, Rice & Kolter (2020), "Fast is better than free".
    """
    return float(np.interp(step, [0.0, peak * total_steps, float(total_steps)], [0.0, max_rate, 0.0]))


class OneCycle(keras.callbacks.Callback):
    """Sets the optimiser's learning rate before every step (``train.schedule.name: cyclic``).

    The step count comes from the epoch and batch index, so a resumed run
    (BackupAndRestore) continues the cycle where it stopped.
    """

    def __init__(self, max_rate: float, peak: float):
        super().__init__()
        self.max_rate = max_rate
        self.peak = peak
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        if not steps:
            raise ValueError("train.schedule.name = cyclic needs the number of steps per epoch; set "
                             "train.steps_per_epoch for a dataset of unknown length")
        rate = one_cycle_rate(self._epoch * steps + batch, epochs * steps, self.max_rate, self.peak)
        keras.backend.set_value(self.model.optimizer.learning_rate, rate)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.backend.get_value(self.model.optimizer.learning_rate))


class OverfitGuard(keras.callbacks.Callback):
    """Catches catastrophic overfitting: PGD accuracy on a fixed training batch, checked every epoch.

    Wong, Rice & Kolter (2020) observe that fast (FGSM) adversarial training
    can collapse within an epoch: FGSM accuracy soars while PGD accuracy falls to
    about zero. They stop early once PGD accuracy on a training minibatch drops.
    After every epoch this callback measures the PGD accuracy of ``base_model``
    (inference mode, ``guard_iterations`` steps of 2.5 * epsilon / iterations, no
    random start) on a fixed batch, keeps the weights of the best check, and when
    the accuracy falls more than ``guard_drop`` below the best, puts those weights
    back and stops training. ``logs['guard_pgd_accuracy']`` records each check;
    `summary` says what happened.
    """

    def __init__(self, base_model: keras.Model, images: np.ndarray, labels: np.ndarray, options: AdversarialConfig):
        super().__init__()
        self.base_model = base_model
        self.images = tf.constant(images, tf.float32)
        self.labels = tf.constant(np.asarray(labels).reshape(-1), tf.int64)
        self.options = options
        self.history: List[float] = []
        self.best_accuracy = -1.0
        self.best_epoch: Optional[int] = None
        self.collapsed_epoch: Optional[int] = None
        self._best_weights = None
        self._check = self._compile()

    def _compile(self):
        options = self.options
        epsilon, iterations = float(options.epsilon), options.guard_iterations

        def logits_of(x):
            return tf.cast(self.base_model({"image": x}, training=False), tf.float32)

        @tf.function
        def check(images, labels):
            adversarial, _ = ascend(logits_of, lambda logits: base.cross_entropy(logits, labels), images,
                                    tf.zeros_like(images), epsilon, 2.5 * epsilon / iterations, iterations,
                                    options.norm)
            predicted = tf.argmax(logits_of(adversarial), axis=-1)
            return tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))

        return check

    def pgd_accuracy(self) -> float:
        """The base model's PGD accuracy on the fixed batch now."""
        return float(self._check(self.images, self.labels))

    def on_epoch_end(self, epoch, logs=None):
        accuracy = self.pgd_accuracy()
        self.history.append(accuracy)
        if logs is not None:
            logs["guard_pgd_accuracy"] = accuracy
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = accuracy, epoch
            self._best_weights = self.base_model.get_weights()
            return
        if accuracy < self.best_accuracy - self.options.guard_drop and self.collapsed_epoch is None:
            self.collapsed_epoch = epoch
            self.base_model.set_weights(self._best_weights)
            self.model.stop_training = True
            log.warning(
                "catastrophic overfitting caught: PGD-%d accuracy on the guard batch fell from %.3f (epoch %d) to "
                "%.3f after epoch %d; rolled back to the weights of epoch %d and stopped training",
                self.options.guard_iterations, self.best_accuracy, self.best_epoch + 1, accuracy, epoch + 1,
                self.best_epoch + 1)

    def summary(self) -> Dict[str, Any]:
        """What the guard saw: for metrics.json."""
        return {
            "pgd_accuracy": self.history,
            "best_epoch": None if self.best_epoch is None else self.best_epoch + 1,
            "best_pgd_accuracy": self.best_accuracy if self.history else None,
            "collapsed": self.collapsed_epoch is not None,
            "rolled_back_and_stopped_after_epoch": None if self.collapsed_epoch is None else self.collapsed_epoch + 1,
            "examples": int(self.images.shape[0]),
            "iterations": self.options.guard_iterations,
        }


def guard_for(job, train_ds, base_model: keras.Model) -> Optional[OverfitGuard]:
    """The overfitting guard of ``job`` (None unless ``adversarial.guard``), on its first training examples.

    ``train_ds`` yields ``({'image': ...}, labels)`` batches; the guard keeps the
    first ``guard_examples`` of them (a fresh pass, before training starts).
    """
    options = job.adversarial
    if not (options.enabled and options.method != "nsl" and options.guard):
        return None
    images, labels, count = [], [], 0
    for features, batch_labels in train_ds:
        images.append(features["image"].numpy())
        labels.append(batch_labels.numpy())
        count += len(images[-1])
        if count >= options.guard_examples:
            break
    images = np.concatenate(images)[:options.guard_examples]
    labels = np.concatenate(labels)[:options.guard_examples]
    return OverfitGuard(base_model, images, labels, options)


def adversarial_metrics(options: AdversarialConfig, final: Dict[str, float],
                        guard: Optional[OverfitGuard]) -> Dict[str, Any]:
    """metrics.json's adversarial entries, from the last epoch's logs."""
    metrics: Dict[str, Any] = {"adversarial_method": options.method, "adversarial_epsilon": options.radius,
                               "adversarial_norm": options.norm, "attack_mode": options.attack_mode}
    if options.method == "nsl":
        metrics["train_total_loss"] = final.get("loss")
        metrics["train_scaled_adversarial_loss"] = final.get("scaled_adversarial_loss")
        return metrics
    metrics["train_adversarial_accuracy"] = final.get("adversarial_accuracy")
    metrics["adversarial_iterations"] = options.iterations
    if options.method == "trades":
        metrics["train_kl"] = final.get("kl")
    if guard is not None:
        metrics["overfit_guard"] = guard.summary()
    return metrics
