"""The tf.data input pipeline: one `Source` in, batches of the package's data shape out.

Every batch is ``{'image': float32 [B, S, S, C] in [0, 1], 'label': int64 [B]}``.
The steps, in order: cache the decoded uint8 examples in memory (unless the
source already is in memory), shuffle (training), batch, then one parallel map
that converts to float, resizes and augments (training), and prefetch.

Randomness and epochs. The shuffle is seeded and reshuffles on every pass over
the dataset. Augmentation is stateless: each batch is augmented with the seed
``[seed, key]``, where ``key`` comes from ``tf.data.Dataset.random(seed,
rerandomize_each_iteration=True)`` zipped with the batches. That stream is the
same for every run with the same seed, but differs from one pass to the next,
so each epoch (each iterator Keras creates over the dataset) gets a new,
reproducible set of augmentations. The whole sequence of epochs is therefore
determined by ``seed`` and the number of passes made before.
"""

import logging
from typing import Dict, Optional

import tensorflow as tf

from robustkit.data.augment import augment_batch
from robustkit.data.options import AugmentConfig
from robustkit.data.source import Source

logger = logging.getLogger(__name__)

Batch = Dict[str, tf.Tensor]


def to_float(images: tf.Tensor, size: Optional[int] = None) -> tf.Tensor:
    """uint8 images -> float32 in [0, 1], resized to ``size`` x ``size`` if it differs.

    Works on one image ``[H, W, C]`` or a batch ``[B, H, W, C]``; resizing is
    bilinear with antialiasing.
    """
    images = tf.cast(images, tf.float32) / 255.0
    if size is not None:
        height, width = images.shape[-3], images.shape[-2]
        if height != size or width != size:
            images = tf.image.resize(images, [size, size], method="bilinear", antialias=True)
            images = tf.clip_by_value(images, 0.0, 1.0)
    return images


def make_pipeline(
    source: Source,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    augment: Optional[AugmentConfig] = None,
    image_size: Optional[int] = None,
    cache: bool = True,
    shuffle_buffer: int = 10000,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Builds the batched input pipeline for a split.

    Args:
      source: the split (`robustkit.data.load_split`).
      batch_size: examples per batch (global, when a strategy splits batches).
      training: shuffle and augment; otherwise keep the source's order.
      seed: seeds the shuffle and the augmentation.
      augment: the augmentation, used when ``training`` and it is enabled.
      image_size: output height and width (None: the source's size, which
        must then be fixed).
      cache: keep the decoded uint8 examples in memory after the first pass;
        ignored for sources that already are in memory.
      shuffle_buffer: examples in the shuffle buffer.
      drop_remainder: drop the last batch if it is smaller than ``batch_size``.

    Returns:
      A dataset of ``{'image': float32 [B, S, S, C], 'label': int64 [B]}``,
      one pass over the split per iteration.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be >= 1, got {shuffle_buffer}")
    height, width, _ = source.image_shape
    fixed = height is not None and width is not None
    if image_size is None and not fixed:
        raise ValueError(f"the {source.split} images vary in size; pass image_size")

    dataset = source.dataset
    if cache and not source.in_memory:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if not fixed:
        dataset = dataset.map(
            lambda ex: {"image": to_float(ex["image"], image_size), "label": ex["label"]},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)

    def prepare(images: tf.Tensor) -> tf.Tensor:
        return to_float(images, image_size) if fixed else images

    if training and augment is not None and augment.enabled:
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        base = tf.constant(seed, tf.int64)

        def transform(batch: Batch, key: tf.Tensor) -> Batch:
            images = augment_batch(prepare(batch["image"]), tf.stack([base, key]), augment)
            return {"image": images, "label": batch["label"]}

        dataset = tf.data.Dataset.zip((dataset, keys)).map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(
            lambda batch: {"image": prepare(batch["image"]), "label": batch["label"]},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    logger.debug("pipeline for %s: %d examples, batch %d, training=%s", source.split,
                 source.num_examples, batch_size, training)
    return dataset.prefetch(tf.data.AUTOTUNE)
