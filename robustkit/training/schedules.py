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
    back and stops training. It also measures the accuracy under the method's own
    training attack (its start, step and iterations, cross-entropy, inference mode)
    on the same batch: when that exceeds the PGD accuracy by more than
    ``guard_gap``, the training attack has stopped finding what PGD finds, the
    other face of the collapse, which can set in from the first epochs. This
    check starts after the first epoch and after the epsilon warm-up; an epoch
    it flags is never the best, and the run rolls back and stops as for a drop
    (with no earlier epoch to go back to, it stops where it is and says so).
    ``logs['guard_pgd_accuracy']`` and ``logs['guard_train_attack_accuracy']``
    record each check; `summary` says what happened.
    """

    def __init__(self, base_model: keras.Model, images: np.ndarray, labels: np.ndarray, options: AdversarialConfig):
        super().__init__()
        self.base_model = base_model
        self.images = tf.constant(images, tf.float32)
        self.labels = tf.constant(np.asarray(labels).reshape(-1), tf.int64)
        self.options = options
        self.history: List[float] = []
        self.train_attack_history: List[float] = []
        self.collapse_reason: Optional[str] = None
        self.best_accuracy = -1.0
        self.best_epoch: Optional[int] = None
        self.collapsed_epoch: Optional[int] = None
        self._best_weights = None
        self._check = self._compile()

    def _compile(self):
        options = self.options
        epsilon, iterations = float(options.epsilon), options.guard_iterations
        train_start = options.method != "trades" and options.random_start

        def logits_of(x):
            return tf.cast(self.base_model({"image": x}, training=False), tf.float32)

        def accuracy(images, labels, start, step_size, steps):
            adversarial, _ = ascend(logits_of, lambda logits: base.cross_entropy(logits, labels), images, start,
                                    epsilon, step_size, steps, options.norm)
            predicted = tf.argmax(logits_of(adversarial), axis=-1)
            return tf.reduce_mean(tf.cast(tf.equal(predicted, labels), tf.float32))

        @tf.function
        def check(images, labels):
            pgd = accuracy(images, labels, tf.zeros_like(images), 2.5 * epsilon / iterations, iterations)
            start = (base.random_in_ball(tf.shape(images), epsilon, options.norm, tf.constant([0, 1], tf.int64))
                     if train_start else tf.zeros_like(images))
            own = accuracy(images, labels, start, float(options.step_size), options.iterations)
            return pgd, own

        return check

    def pgd_accuracy(self) -> float:
        """The base model's PGD accuracy on the fixed batch now."""
        return float(self._check(self.images, self.labels)[0])

    def on_epoch_end(self, epoch, logs=None):
        pgd, own = (float(v) for v in self._check(self.images, self.labels))
        self.history.append(pgd)
        self.train_attack_history.append(own)
        if logs is not None:
            logs["guard_pgd_accuracy"] = pgd
            logs["guard_train_attack_accuracy"] = own
        # The gap says nothing about a model still close to its initialisation, nor while epsilon warms up.
        gap = own - pgd > self.options.guard_gap and epoch >= max(1, self.options.epsilon_warmup_epochs)
        if not gap and pgd > self.best_accuracy:
            self.best_accuracy, self.best_epoch = pgd, epoch
            self._best_weights = self.base_model.get_weights()
            return
        drop = self.best_epoch is not None and pgd < self.best_accuracy - self.options.guard_drop
        if not (gap or drop) or self.collapsed_epoch is not None:
            return
        self.collapsed_epoch = epoch
        self.model.stop_training = True
        if gap:
            self.collapse_reason = (f"accuracy under the training attack ({own:.3f}) exceeds PGD-"
                                    f"{self.options.guard_iterations} accuracy ({pgd:.3f}) by more than guard_gap "
                                    f"= {self.options.guard_gap:g} on the guard batch")
        else:
            self.collapse_reason = (f"PGD-{self.options.guard_iterations} accuracy on the guard batch fell from "
                                    f"{self.best_accuracy:.3f} (epoch {self.best_epoch + 1}) to {pgd:.3f}")
        if self._best_weights is None:
            action = "no earlier epoch passed the check, so the weights stay those of this epoch; training stopped"
        else:
            self.base_model.set_weights(self._best_weights)
            action = f"rolled back to the weights of epoch {self.best_epoch + 1} and stopped training"
        log.warning("catastrophic overfitting caught after epoch %d: %s; %s", epoch + 1, self.collapse_reason, action)

    def summary(self) -> Dict[str, Any]:
        """What the guard saw: for metrics.json."""
        return {
            "pgd_accuracy": self.history,
            "best_epoch": None if self.best_epoch is None else self.best_epoch + 1,
            "best_pgd_accuracy": self.best_accuracy if self.history else None,
            "collapsed": self.collapsed_epoch is not None,
            "rolled_back_and_stopped_after_epoch": None if self.collapsed_epoch is None else self.collapsed_epoch + 1,
            "rolled_back": self.collapsed_epoch is not None and self._best_weights is not None,
            "reason": self.collapse_reason,
            "train_attack_accuracy": self.train_attack_history,
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
