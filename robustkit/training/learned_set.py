"""Classifier training against a learned perturbation set (``learned_set`` in a training config).

Wong & Kolter (2020), "Learning perturbation sets for robust machine
learning", train classifiers on the members of a CVAE's perturbation set:
random members for data augmentation, the worst member (PGD in the latent
ball) for adversarial training. `LearnedSetTrainer` wraps the classifier the
way NSL's wrapper does for pixel-space neighbours: ``fit`` is called on the
trainer, the base model is what gets exported.

Each training step builds the perturbed copy of the batch with the classifier
in inference mode and no gradient into the set, then runs one forward pass
over clean and perturbed images together, weighted so that the loss is
``(1 - weight) * clean + weight * perturbed`` through Keras's own loss
container (distribution, regularisation losses and the ``loss`` metric as in
plain training). ``accuracy`` is measured on the clean images and
``perturbed_accuracy`` on their perturbed copies; validation is on clean
images only.
"""

import tensorflow as tf
import tf_keras as keras

from robustkit.training.config import LearnedSetConfig

IMAGE_KEY = "image"


class LearnedSetTrainer(keras.Model):
    """Trains ``base_model`` on clean images and their members of a learned perturbation set.

    Args:
      base_model: the classifier, input ``image`` (float32 in [0, 1]), logits out.
      perturbation_set: a `robustkit.generative.perturbation.PerturbationSet`.
      options: the ``learned_set`` section.
      seed: seeds the random draws of ``augment`` mode.
    """

    def __init__(self, base_model: keras.Model, perturbation_set, options: LearnedSetConfig, seed: int = 0):
        super().__init__(name="learned_set_trainer")
        self.base_model = base_model
        self.options = options
        self._set = perturbation_set.for_shape(base_model.input_shape[1:])
        self._seed = int(seed)
        self.perturbed_accuracy = keras.metrics.SparseCategoricalAccuracy(name="perturbed_accuracy")

    def call(self, inputs, training=None):
        return self.base_model(inputs, training=training)

    def perturb(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """The batch's perturbed copy: a random member, or the classifier's worst one."""
        options = self.options
        images = tf.cast(images, tf.float32)
        if options.mode == "augment":
            # A fresh draw each step, the same after a resume (the step count is checkpointed).
            seed = tf.stack([tf.constant(self._seed, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])
            perturbed = self._set.sample(images, 1, options.radius, seed=seed)[0]
        else:
            def logits_of(x):
                return tf.cast(self.base_model({IMAGE_KEY: x}, training=False), tf.float32)

            perturbed, _ = self._set.worst_case(logits_of, images, labels, options.radius, steps=options.iterations,
                                                step_size=options.step_size)
        return tf.stop_gradient(tf.clip_by_value(perturbed, 0.0, 1.0))

    def train_step(self, data):
        features, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = features[IMAGE_KEY] if isinstance(features, dict) else features
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
        perturbed = self.perturb(images, labels)
        weight = self.options.weight
        batch = tf.shape(labels)[0]
        # Weights 2(1 - w) and 2w over the doubled batch make Keras's mean loss
        # exactly (1 - w) * mean clean loss + w * mean perturbed loss.
        sample_weight = tf.concat([tf.fill([batch], 2.0 * (1.0 - weight)), tf.fill([batch], 2.0 * weight)], axis=0)
        both = tf.concat([tf.cast(images, tf.float32), perturbed], axis=0)
        doubled = tf.concat([labels, labels], axis=0)
        with tf.GradientTape() as tape:
            logits = self.base_model({IMAGE_KEY: both}, training=True)
            loss = self.compute_loss(both, doubled, logits, sample_weight)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        clean_logits, perturbed_logits = logits[:batch], logits[batch:]
        self.compiled_metrics.update_state(labels, clean_logits)
        self.perturbed_accuracy.update_state(labels, perturbed_logits)
        return self.get_metrics_result()

    def evaluate(self, *args, **kwargs):
        # Validation is on clean images: perturbed_accuracy is dropped from its logs
        # here, not in test_step, whose keys must match the metrics for Keras to read
        # them synchronised (under multi_worker it would otherwise sum the workers').
        results = super().evaluate(*args, **kwargs)
        if isinstance(results, dict):
            results.pop("perturbed_accuracy", None)
        return results


def wrap(base_model: keras.Model, perturbation_set, options: LearnedSetConfig, seed: int = 0) -> LearnedSetTrainer:
    """Wraps ``base_model`` to train against ``perturbation_set`` (call inside the strategy's scope)."""
    trainer = LearnedSetTrainer(base_model, perturbation_set, options, seed)
    trainer({IMAGE_KEY: tf.zeros([1, *base_model.input_shape[1:]], tf.float32)})  # Builds it.
    return trainer
