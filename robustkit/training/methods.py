"""Robust training steps beside NSL: PGD adversarial training, TRADES and fast adversarial training.

`RobustTrainer` wraps the classifier the way `learned_set.LearnedSetTrainer`
does: ``fit`` is called on the trainer, the base model is what gets exported.
Each training step crafts the batch's adversarial copy with the weights held
fixed (no gradient into the weights), then takes one optimiser step on the
method's loss:

- ``pgd`` (Madry et al., 2018, "Towards Deep Learning Models Resistant to
  Adversarial Attacks"): ``(1 - clean_weight) * CE(x_adv) + clean_weight * CE(x)``,
  ``x_adv`` by ``iterations`` steps of projected gradient ascent on the
  cross-entropy.
- ``trades`` (Zhang et al., 2019, "Theoretically Principled Trade-off between
  Robustness and Accuracy"): ``CE(x) + beta * KL(p(x) || p(x'))``, ``x'`` by PGD
  on that KL from ``x + 0.001 * N(0, 1)``.
- ``fast`` (Wong, Rice & Kolter, 2020, "Fast is better than free"): ``CE(x_adv)``,
  ``x_adv`` one FGSM step of ``step_size`` (1.25 * epsilon) from a uniform draw in
  the ball, projected back onto the ball and into [0, 1].

The attack runs with BatchNorm and dropout in ``attack_mode`` and takes its
gradient of a float32 loss with respect to float32 images (also under
``mixed_bfloat16``). Losses go through Keras's loss container (the TRADES KL term
as an extra loss), so distribution scaling, regularisation losses and the
logged ``loss`` (the whole objective) are as in plain training.

Logged in training: ``accuracy`` on the clean images (for ``pgd`` without a
clean term and for ``fast``, whose steps make no clean forward pass, on the
attack's starting point: the clean image, or its random start in the ball),
``adversarial_accuracy`` on the adversarial examples trained on, and for
``trades`` the mean ``kl``. Validation is on clean images.
"""

from typing import Callable, Tuple

import tensorflow as tf
import tf_keras as keras

from robustkit.attacks import base
from robustkit.training.adversarial_config import AdversarialConfig

IMAGE_KEY = "image"
TRADES_START_STD = 0.001  # Zhang et al.'s random start, x + 0.001 * N(0, 1).
TRAIN_ONLY_METRICS = ("adversarial_accuracy", "kl")


def random_start(shape: tf.Tensor, epsilon: tf.Tensor, norm: str, seed: tf.Tensor) -> tf.Tensor:
    """A draw from the ``epsilon`` ball in ``norm`` (uniform per coordinate for linf), stateless."""
    return base.random_in_ball(shape, epsilon, norm, seed)


def ascend(logits_of: Callable[[tf.Tensor], tf.Tensor], objective: Callable[[tf.Tensor], tf.Tensor],
           images: tf.Tensor, start: tf.Tensor, epsilon: tf.Tensor, step_size: tf.Tensor, iterations: int,
           norm: str) -> Tuple[tf.Tensor, tf.Tensor]:
    """Projected gradient ascent of ``objective(logits_of(x))`` in the ball around ``images``.

    Args:
      logits_of: the model as a function of images, float32 logits.
      objective: per-example value to maximise, from logits.
      images: the centres of the balls, in [0, 1].
      start: the initial perturbation (zeros for none).
      epsilon: the radius; step_size: the length of a step, in ``norm``.
      iterations: the number of steps (at least 1).
      norm: linf or l2.

    Returns:
      ``(x_adv, first_logits)``: the last iterate, in the ball and in [0, 1], and
      the logits at the starting point (the first step's forward pass).
    """

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = logits_of(x)
            value = tf.reduce_sum(objective(logits))
        direction = base.steepest_direction(tape.gradient(value, x), norm)
        delta = base.project(x + step_size * direction - images, epsilon, norm)
        return tf.clip_by_value(images + delta, 0.0, 1.0), logits

    x, first_logits = step(tf.clip_by_value(images + start, 0.0, 1.0))
    for _ in base.loop_range(iterations - 1):
        x, _ = step(x)
    return tf.stop_gradient(x), first_logits


def kl_divergence(clean_logits: tf.Tensor, adv_logits: tf.Tensor) -> tf.Tensor:
    """Per-example KL(softmax(clean) || softmax(adv)), in float32."""
    clean_logits, adv_logits = tf.cast(clean_logits, tf.float32), tf.cast(adv_logits, tf.float32)
    clean_log = tf.nn.log_softmax(clean_logits)
    return tf.reduce_sum(tf.exp(clean_log) * (clean_log - tf.nn.log_softmax(adv_logits)), axis=-1)


class RobustTrainer(keras.Model):
    """Trains ``base_model`` with PGD adversarial training, TRADES or fast adversarial training.

    Args:
      base_model: the classifier, input ``image`` (float32 in [0, 1]), logits out.
      options: the ``adversarial`` section (method pgd, trades or fast).
      seed: seeds the random starts (stateless: the same after a resume).
      warmup_steps: optimiser steps over which epsilon rises linearly from 0
        (``epsilon_warmup_epochs`` times the steps per epoch); 0 for none.

    Example:
      >>> trainer = RobustTrainer(model, AdversarialConfig(enabled=True, method="pgd", epsilon=0.1))
      >>> trainer.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
      >>> trainer.fit({"image": x}, y)  # doctest: +SKIP
    """

    def __init__(self, base_model: keras.Model, options: AdversarialConfig, seed: int = 0, warmup_steps: int = 0):
        super().__init__(name=f"{options.method}_trainer")
        if options.method not in ("pgd", "trades", "fast"):
            raise ValueError(f"RobustTrainer trains pgd, trades or fast, not {options.method!r}")
        self.base_model = base_model
        self.options = options
        self._seed = int(seed)
        self._warmup_steps = int(warmup_steps)
        self.adversarial_accuracy = keras.metrics.SparseCategoricalAccuracy(name="adversarial_accuracy")
        if options.method == "trades":
            self.kl = keras.metrics.Mean(name="kl")

    def call(self, inputs, training=None):
        return self.base_model(inputs, training=training)

    def epsilon_now(self) -> tf.Tensor:
        """Epsilon at this step: rising linearly from 0 during the warm-up."""
        epsilon = tf.constant(self.options.epsilon, tf.float32)
        if self._warmup_steps > 0:
            done = tf.cast(self.optimizer.iterations, tf.float32) / float(self._warmup_steps)
            epsilon = epsilon * tf.minimum(1.0, done)
        return epsilon

    def _logits(self, training: bool) -> Callable[[tf.Tensor], tf.Tensor]:
        return lambda x: tf.cast(self.base_model({IMAGE_KEY: x}, training=training), tf.float32)

    def _seed_tensor(self) -> tf.Tensor:
        seed = tf.stack([tf.constant(self._seed, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])
        replica = tf.distribute.get_replica_context()
        if replica is not None:  # Each replica draws for its own share of the batch.
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        return seed

    def craft(self, images: tf.Tensor, labels: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """The batch's adversarial copy and the logits at the attack's start."""
        options = self.options
        epsilon = self.epsilon_now()
        step_size = options.step_size * epsilon / options.epsilon
        logits_of = self._logits(options.attack_mode == "train")
        shape = tf.shape(images)
        if options.method == "trades":
            start = TRADES_START_STD * tf.random.stateless_normal(shape, self._seed_tensor())
            clean = tf.stop_gradient(logits_of(images))

            def objective(logits):
                return kl_divergence(clean, logits)
        else:
            start = random_start(shape, epsilon, options.norm, self._seed_tensor()) if options.random_start \
                else tf.zeros_like(images)

            def objective(logits):
                return base.cross_entropy(logits, labels)
        return ascend(logits_of, objective, images, start, epsilon, step_size, options.iterations, options.norm)

    def train_step(self, data):
        features, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = features[IMAGE_KEY] if isinstance(features, dict) else features
        images = tf.cast(images, tf.float32)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
        adversarial, start_logits = self.craft(images, labels)
        options = self.options
        with tf.GradientTape() as tape:
            if options.method == "trades":
                clean_logits = self.base_model({IMAGE_KEY: images}, training=True)
                adv_logits = self.base_model({IMAGE_KEY: adversarial}, training=True)
                kl = tf.reduce_mean(kl_divergence(clean_logits, adv_logits))
                loss = self.compiled_loss(labels, clean_logits,
                                          regularization_losses=self.losses + [options.beta * kl])
            elif options.clean_weight > 0:
                # Weights 2w and 2(1 - w) over the doubled batch make Keras's mean loss
                # exactly w * mean clean loss + (1 - w) * mean adversarial loss.
                weight, batch = options.clean_weight, tf.shape(labels)[0]
                sample_weight = tf.concat([tf.fill([batch], 2.0 * weight), tf.fill([batch], 2.0 * (1.0 - weight))], 0)
                both = tf.concat([images, adversarial], axis=0)
                logits = self.base_model({IMAGE_KEY: both}, training=True)
                loss = self.compute_loss(both, tf.concat([labels, labels], 0), logits, sample_weight)
                clean_logits, adv_logits = logits[:batch], logits[batch:]
            else:
                adv_logits = self.base_model({IMAGE_KEY: adversarial}, training=True)
                loss = self.compute_loss(adversarial, labels, adv_logits)
                clean_logits = start_logits
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        self.compiled_metrics.update_state(labels, clean_logits)
        self.adversarial_accuracy.update_state(labels, adv_logits)
        if options.method == "trades":
            self.kl.update_state(kl)
        return self.get_metrics_result()

    def evaluate(self, *args, **kwargs):
        # Validation is on clean images: the training-only metrics are dropped from its
        # logs here, not in test_step, whose keys must match the metrics for Keras to
        # read them synchronised (under multi_worker it would otherwise sum the workers').
        results = super().evaluate(*args, **kwargs)
        if isinstance(results, dict):
            results = {key: value for key, value in results.items() if key not in TRAIN_ONLY_METRICS}
        return results


def wrap(base_model: keras.Model, options: AdversarialConfig, seed: int = 0, warmup_steps: int = 0) -> RobustTrainer:
    """Wraps ``base_model`` for robust training (call inside the strategy's scope)."""
    trainer = RobustTrainer(base_model, options, seed, warmup_steps)
    trainer({IMAGE_KEY: tf.zeros([1, *base_model.input_shape[1:]], tf.float32)})  # Builds it.
    return trainer
