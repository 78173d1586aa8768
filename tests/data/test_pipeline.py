"""make_pipeline: dtype, range, shapes, resizing, seeded order and epochs."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.data import AugmentConfig, Source, make_pipeline
from robustkit.data.source import from_arrays

AUGMENT = AugmentConfig(flip_prob=0.5, crop_prob=0.5, gaussian_prob=0.5, gaussian_std=0.1)


def _source(count=50, size=8, channels=3, in_memory=True):
    images = np.arange(count * size * size * channels).reshape(count, size, size, channels) % 256
    source = from_arrays(images.astype(np.uint8), np.arange(count) % 10, class_names=list("abcdefghij"), split="train")
    if not in_memory:
        source = Source(source.dataset.map(lambda ex: ex), source.num_examples, source.num_classes,
                        source.class_names, source.image_shape, source.split)
    return source


def _batches(dataset):
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


def _labels(dataset):
    return np.concatenate([b["label"] for b in _batches(dataset)]).tolist()


@pytest.mark.parametrize("in_memory", [True, False])
def test_eval_batches_are_float_in_order(in_memory):
    source = _source(in_memory=in_memory)
    batches = _batches(make_pipeline(source, 16, training=False, seed=0))
    assert [len(b["label"]) for b in batches] == [16, 16, 16, 2]
    images = np.concatenate([b["image"] for b in batches])
    assert images.dtype == np.float32 and images.shape == (50, 8, 8, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    expected = np.stack([e["image"] for e in source.dataset.as_numpy_iterator()]) / 255.0
    np.testing.assert_allclose(images, expected, rtol=1e-6)
    assert np.concatenate([b["label"] for b in batches]).dtype == np.int64
    assert _labels(make_pipeline(source, 16, training=False, seed=0)) == (np.arange(50) % 10).tolist()


def test_drop_remainder_and_resize():
    dataset = make_pipeline(_source(), 16, training=True, seed=0, image_size=12, drop_remainder=True)
    assert dataset.element_spec["image"].shape.as_list() == [16, 12, 12, 3]
    batches = _batches(dataset)
    assert len(batches) == 3 and all(b["image"].shape == (16, 12, 12, 3) for b in batches)


def test_resize_of_constant_image_keeps_value():
    images = np.full((4, 28, 28, 1), 51, np.uint8)
    source = from_arrays(images, np.zeros(4), class_names=["x"], split="test")
    batch = _batches(make_pipeline(source, 4, training=False, seed=0, image_size=32))[0]
    assert batch["image"].shape == (4, 32, 32, 1)
    np.testing.assert_allclose(batch["image"], 0.2, atol=1e-5)


@pytest.mark.parametrize("augment", [None, AUGMENT])
def test_same_seed_same_batches_other_seed_other_order(augment):
    first = _batches(make_pipeline(_source(), 10, training=True, seed=1, augment=augment))
    again = _batches(make_pipeline(_source(), 10, training=True, seed=1, augment=augment))
    other = _batches(make_pipeline(_source(), 10, training=True, seed=2, augment=augment))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["label"], b["label"])
    order = lambda batches: np.concatenate([b["label"] for b in batches]).tolist()  # noqa: E731
    assert order(first) != order(other)
    assert sorted(order(first)) == sorted(order(other)) == sorted((np.arange(50) % 10).tolist())


def test_epochs_differ_but_are_reproducible():
    def two_epochs(seed):
        dataset = make_pipeline(_source(), 50, training=True, seed=seed, augment=AUGMENT)
        return [_batches(dataset)[0] for _ in range(2)]

    (one, two), (one_again, two_again) = two_epochs(3), two_epochs(3)
    assert not np.array_equal(one["label"], two["label"])
    np.testing.assert_array_equal(one["image"], one_again["image"])
    np.testing.assert_array_equal(two["image"], two_again["image"])
    # Same examples in the same order in both epochs would still get new augmentations.
    unshuffled = make_pipeline(_source(), 50, training=True, seed=3, augment=AUGMENT, shuffle_buffer=1)
    epoch1, epoch2 = _batches(unshuffled)[0], _batches(unshuffled)[0]
    np.testing.assert_array_equal(epoch1["label"], epoch2["label"])
    assert not np.array_equal(epoch1["image"], epoch2["image"])


def test_augmentation_only_when_training():
    source = _source()
    plain = _batches(make_pipeline(source, 50, training=False, seed=0, augment=AUGMENT))[0]
    np.testing.assert_allclose(plain["image"], np.stack([e["image"] for e in source.dataset]) / 255.0, rtol=1e-6)


def test_variable_size_source_needs_image_size():
    images = tf.data.Dataset.from_generator(
        lambda: ({"image": np.zeros((h, h + 1, 3), np.uint8), "label": np.int64(0)} for h in (5, 9, 7)),
        output_signature={"image": tf.TensorSpec([None, None, 3], tf.uint8), "label": tf.TensorSpec([], tf.int64)},
    )
    source = Source(images, 3, 1, ["x"], (None, None, 3), "train")
    with pytest.raises(ValueError, match="vary in size; pass image_size"):
        make_pipeline(source, 2, training=False, seed=0)
    batches = _batches(make_pipeline(source, 2, training=True, seed=0, image_size=6))
    assert [b["image"].shape for b in batches] == [(2, 6, 6, 3), (1, 6, 6, 3)]
