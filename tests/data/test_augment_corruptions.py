"""Augmentation with the real MNIST-C corruptions (`robustkit.data.augment.real_corruptions`)."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.data import corruptions
from robustkit.data.augment import augment_batch
from robustkit.data.options import AugmentConfig
from tests.helpers import learnable_images


def _batch(n: int = 16) -> np.ndarray:
    return (learnable_images(n, seed=2)[0][..., None] / 255.0).astype(np.float32)


def test_every_example_is_replaced_by_its_corruption_at_probability_one():
    x = _batch()
    out = augment_batch(x, tf.constant([3, 4]), AugmentConfig(corruption_prob=1.0, corruptions=["stripe"])).numpy()
    np.testing.assert_allclose(out, corruptions.corrupt(x, "stripe"), atol=1e-6)


def test_a_share_is_corrupted_reproducibly_by_the_seed_and_stays_in_range():
    x = _batch(64)
    options = AugmentConfig(corruption_prob=0.5, corruptions=["shot_noise", "fog", "zigzag"],
                            corruption_severities=[1, 5])
    first = augment_batch(x, tf.constant([3, 4]), options).numpy()
    np.testing.assert_array_equal(first, augment_batch(x, tf.constant([3, 4]), options).numpy())
    changed = np.any(first != x, axis=(1, 2, 3))
    assert 10 < changed.sum() < 54 and first.shape == x.shape and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert not np.array_equal(first, augment_batch(x, tf.constant([3, 5]), options).numpy())


def test_corruption_options_are_checked():
    with pytest.raises(ValueError, match="augment.corruption_prob = 0.5 needs augment.corruptions"):
        AugmentConfig(corruption_prob=0.5)
    with pytest.raises(ValueError, match=r"augment.corruptions\[0\] = 'fogg'"):
        AugmentConfig(corruptions=["fogg"])
    assert AugmentConfig(corruption_prob=0.1, corruptions=["fog"]).enabled


def test_the_training_pipeline_applies_them():
    from robustkit.data.pipeline import make_pipeline
    from robustkit.data.source import from_arrays

    images, labels = learnable_images(32, seed=2)
    source = from_arrays(images[..., None], labels, class_names=list("abcd"), split="train")
    options = AugmentConfig(corruption_prob=1.0, corruptions=["stripe"])
    batch = next(iter(make_pipeline(source, 8, training=True, seed=1, augment=options)))
    assert batch["image"].shape == (8, 28, 28, 1)
    striped = corruptions.corrupt(images[..., None] / 255.0, "stripe").astype(np.float32)
    for image in batch["image"].numpy():
        assert np.min(np.abs(striped - image).max(axis=(1, 2, 3))) < 1e-6
