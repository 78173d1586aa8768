"""Adversarial regularisation through Neural Structured Learning (the only NSL importer).

Training uses ``nsl.keras.AdversarialRegularization`` (Goodfellow et al., 2015,
"Explaining and Harnessing Adversarial Examples"; NSL: Bui et al., 2018): the
wrapper adds ``multiplier * loss(model(x_adv), y)`` to the labelled loss, with
``x_adv`` found from the gradient of the labelled loss (one step, or PGD when
``pgd_iterations > 1``). The wrapper is used rather than a train step of our own
because it already reuses the clean forward pass's tape for the input gradient
and works under every `tf.distribute` strategy; robustkit only supplies the
dict-shaped clip bounds NSL needs to keep adversarial pixels in [0, 1] (a scalar
bound is silently ignored for dict inputs) and exports the base model, never
the wrapper.
"""

import neural_structured_learning as nsl
import tensorflow as tf
import tf_keras as keras

from robustkit.training.config import AdversarialConfig

IMAGE_KEY = "image"
LABEL_KEY = "label"


def nsl_config(options: AdversarialConfig) -> nsl.configs.AdvRegConfig:
    """The NSL config, with per-feature clip bounds that keep images in [0, 1]."""
    pgd = options.pgd_iterations > 1
    return nsl.configs.make_adv_reg_config(
        multiplier=options.multiplier,
        adv_step_size=options.step_size,
        adv_grad_norm=options.norm,
        clip_value_min={IMAGE_KEY: 0.0},
        clip_value_max={IMAGE_KEY: 1.0},
        pgd_iterations=options.pgd_iterations,
        pgd_epsilon=options.epsilon if pgd else None,
        random_init=options.random_init and pgd,
    )


def wrap(base_model: keras.Model, options: AdversarialConfig) -> keras.Model:
    """Wraps ``base_model`` (input named ``image``) for adversarial training.

    The wrapper takes ``{'image': ..., 'label': ...}`` batches; compile and fit
    it like any Keras model. Its weights are the base model's.
    """
    if IMAGE_KEY not in base_model.input_names:
        raise ValueError(f"the base model's input must be named {IMAGE_KEY!r}, got {base_model.input_names}")
    return nsl.keras.AdversarialRegularization(base_model, label_keys=[LABEL_KEY], adv_config=nsl_config(options))


def build(wrapper: keras.Model) -> None:
    """Builds the wrapper by calling it once on a blank batch of one."""
    base = wrapper.base_model
    image = tf.zeros([1, *base.input_shape[1:]], dtype=tf.float32)
    wrapper({IMAGE_KEY: image, LABEL_KEY: tf.zeros([1], dtype=tf.int64)})
