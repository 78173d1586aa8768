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

NSL's random start (``random_init``) draws ``tf.random.uniform(t.shape)``, which
fails on a batch whose size is unknown when the graph is traced: Keras traces
the validation step with a free batch dimension, so the first validation
crashed. `RandomStartRegularization` keeps NSL's random start where the batch
size is static (training batches, which the pipeline makes whole) and, in a
step traced without one (evaluation), crafts the neighbour without the random
start: the validation loss is then a deterministic PGD from the clean image.
"""

import attr
import neural_structured_learning as nsl
import tensorflow as tf
import tf_keras as keras

from robustkit.training.config import AdversarialConfig

IMAGE_KEY = "image"
LABEL_KEY = "label"

# robustkit's norm names -> NSL's (``adv_grad_norm``); nowhere else sees NSL's names.
NSL_NORMS = {"linf": "infinity", "l2": "l2", "l1": "l1"}


def nsl_config(options: AdversarialConfig) -> nsl.configs.AdvRegConfig:
    """The NSL config, with per-feature clip bounds that keep images in [0, 1] and NSL's name for the norm."""
    pgd = options.pgd_iterations > 1
    return nsl.configs.make_adv_reg_config(
        multiplier=options.multiplier,
        adv_step_size=options.step_size,
        adv_grad_norm=NSL_NORMS[options.norm],
        clip_value_min={IMAGE_KEY: 0.0},
        clip_value_max={IMAGE_KEY: 1.0},
        pgd_iterations=options.pgd_iterations,
        pgd_epsilon=options.radius if pgd else None,
        random_init=options.random_init and pgd,
    )


class RandomStartRegularization(nsl.keras.AdversarialRegularization):
    """NSL's wrapper whose random start also works on batches of unknown size.

    Where the traced batch size is unknown, the step uses the same config
    without ``random_init`` (NSL cannot draw its random start there).
    """

    def __init__(self, base_model: keras.Model, adv_config: nsl.configs.AdvRegConfig, **kwargs):
        super().__init__(base_model, adv_config=adv_config, **kwargs)
        neighbour = attr.evolve(adv_config.adv_neighbor_config, random_init=False)
        self._fixed_start_config = attr.evolve(adv_config, adv_neighbor_config=neighbour)

    def call(self, inputs, **kwargs):
        image = inputs.get(IMAGE_KEY) if isinstance(inputs, dict) else None
        if image is None or image.shape[0] is not None:
            return super().call(inputs, **kwargs)
        random_config = self.adv_config
        self.adv_config = self._fixed_start_config  # Read only while this call is traced.
        try:
            return super().call(inputs, **kwargs)
        finally:
            self.adv_config = random_config


def wrap(base_model: keras.Model, options: AdversarialConfig) -> keras.Model:
    """Wraps ``base_model`` (input named ``image``) for adversarial training.

    The wrapper takes ``{'image': ..., 'label': ...}`` batches; compile and fit
    it like any Keras model. Its weights are the base model's.
    """
    if IMAGE_KEY not in base_model.input_names:
        raise ValueError(f"the base model's input must be named {IMAGE_KEY!r}, got {base_model.input_names}")
    config = nsl_config(options)
    if config.adv_neighbor_config.random_init:
        return RandomStartRegularization(base_model, label_keys=[LABEL_KEY], adv_config=config)
    return nsl.keras.AdversarialRegularization(base_model, label_keys=[LABEL_KEY], adv_config=config)


def build(wrapper: keras.Model) -> None:
    """Builds the wrapper by calling it once on a blank batch of one."""
    base = wrapper.base_model
    image = tf.zeros([1, *base.input_shape[1:]], dtype=tf.float32)
    wrapper({IMAGE_KEY: image, LABEL_KEY: tf.zeros([1], dtype=tf.int64)})


def neighbour_fn(model, options: AdversarialConfig):
    """A compiled function making the adversarial neighbour NSL trains on.

    It calls ``nsl.lib.gen_adv_neighbor`` inside a `tf.function` with the
    wrapper's loss (sparse cross-entropy on logits, averaged over the batch) and
    the same dict-shaped clip bounds, so it returns what
    ``AdversarialRegularization.perturb_on_batch`` returns, without the eager
    round trip through NumPy.

    Args:
      model: a callable from float32 images in [0, 1] to logits.
      options: the neighbour's configuration (``multiplier`` is unused).

    Returns:
      ``neighbour(images, labels, step_size=None, pgd_epsilon=None) -> images``
      (float32, in [0, 1]). ``step_size`` and ``pgd_epsilon``, given as
      tensors, replace the configured values without retracing, so one
      function serves a sweep over epsilons; ``pgd_epsilon`` applies only to
      PGD and cannot be a tensor with ``random_init`` (NSL tests it for truth).
    """
    config = nsl_config(options).adv_neighbor_config
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def model_fn(features):
        return model(features[IMAGE_KEY])

    @tf.function  # Traced per batch shape: NSL's random start needs a static one.
    def neighbour(images, labels, step_size=None, pgd_epsilon=None):
        chosen = config
        if step_size is not None:
            chosen = attr.evolve(chosen, adv_step_size=step_size)
        if pgd_epsilon is not None and config.pgd_epsilon is not None:
            chosen = attr.evolve(chosen, pgd_epsilon=pgd_epsilon)
        features = {IMAGE_KEY: tf.convert_to_tensor(images, tf.float32)}
        with tf.GradientTape() as tape:
            tape.watch(features[IMAGE_KEY])
            labeled_loss = loss_fn(labels, model_fn(features))
        adv, _ = nsl.lib.gen_adv_neighbor(
            features, labeled_loss, chosen, gradient_tape=tape, pgd_model_fn=model_fn,
            pgd_loss_fn=loss_fn, pgd_labels=labels, use_while_loop=True,
        )
        return adv[IMAGE_KEY]

    return neighbour


def perturb_on_batch_fn(base_model: keras.Model, options: AdversarialConfig):
    """NSL's own eager ``perturb_on_batch`` for ``base_model``, as ``fn(images, labels) -> np.ndarray``.

    For comparison with `neighbour_fn` (benchmarks, tests): it wraps and compiles
    the model the way training does.
    """
    wrapper = wrap(base_model, options)
    wrapper.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def perturb(images, labels):
        return wrapper.perturb_on_batch({IMAGE_KEY: images, LABEL_KEY: labels})[IMAGE_KEY]

    return perturb
