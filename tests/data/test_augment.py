"""augment_batch: known answers for each op, ranges, seeding and probabilities."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.data import AugmentConfig, augment_batch

SEED = tf.constant([7, 11], tf.int64)


def _images(batch=8, size=16, channels=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(0, 1, (batch, size, size, channels)), tf.float32)


def _augment(images, seed=SEED, **options):
    return augment_batch(images, seed, AugmentConfig(**options)).numpy()


def test_all_zero_probabilities_are_identity():
    images = _images()
    np.testing.assert_array_equal(_augment(images, brightness=0.5, gaussian_std=0.3, salt_pepper_amount=1.0), images)


def test_flip_prob_one_reverses_width():
    images = _images()
    np.testing.assert_array_equal(_augment(images, flip_prob=1.0), tf.reverse(images, axis=[2]))


@pytest.mark.parametrize("mode", ["reflect", "zero"])
def test_crop_with_zero_padding_is_identity(mode):
    images = _images()
    np.testing.assert_array_equal(_augment(images, crop_prob=1.0, crop_padding=0, crop_mode=mode), images)


def test_crop_shifts_content_within_padding():
    images = _images(batch=32, size=8)
    out = _augment(images, crop_prob=1.0, crop_padding=2, crop_mode="zero")
    padded = np.pad(images.numpy(), [(0, 0), (2, 2), (2, 2), (0, 0)])
    for image, result in zip(padded, out):
        windows = [image[dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(np.array_equal(w, result) for w in windows)
    assert sum(not np.array_equal(a, b) for a, b in zip(images.numpy(), out)) > 20


def test_brightness_only_shifts_each_example_uniformly():
    images = tf.fill([16, 4, 4, 3], 0.5)
    out = _augment(images, jitter_prob=1.0, brightness=0.2)
    deltas = out - 0.5
    assert np.allclose(deltas, deltas[:, :1, :1, :1], atol=1e-6)
    assert np.abs(deltas).max() <= 0.2 + 1e-6 and np.std(deltas[:, 0, 0, 0]) > 0.01


def test_gaussian_std_zero_and_poisson_huge_peak_are_identity():
    images = _images()
    np.testing.assert_allclose(_augment(images, gaussian_prob=1.0, gaussian_std=0.0), images)
    np.testing.assert_allclose(_augment(images, poisson_prob=1.0, poisson_peak=1e7), images, atol=3e-3)


def test_poisson_noise_has_shot_noise_variance():
    images = tf.fill([4, 64, 64, 1], 0.25)
    out = _augment(images, poisson_prob=1.0, poisson_peak=100.0)
    assert abs(out.mean() - 0.25) < 0.005 and abs(out.var() - 0.25 / 100.0) < 0.0005


def test_gaussian_noise_std():
    images = tf.fill([4, 64, 64, 3], 0.5)
    out = _augment(images, gaussian_prob=1.0, gaussian_std=0.05)
    assert abs(out.std() - 0.05) < 0.003


def test_salt_and_pepper_amount_one_gives_only_zero_and_one():
    out = _augment(_images(), salt_pepper_prob=1.0, salt_pepper_amount=1.0)
    assert set(np.unique(out)) == {0.0, 1.0}
    assert np.all(out == out[..., :1])  # The same value in every channel of a pixel.


def test_outputs_stay_in_unit_range():
    options = dict(flip_prob=0.5, crop_prob=0.5, jitter_prob=1.0, brightness=0.8, contrast=0.9, saturation=0.9,
                   hue=0.5, gaussian_prob=1.0, gaussian_std=0.5, poisson_prob=0.5, poisson_peak=5.0,
                   salt_pepper_prob=0.5, salt_pepper_amount=0.1)
    out = _augment(_images(batch=16), **options)
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.dtype == np.float32


def test_same_seed_same_result_other_seed_other_result():
    options = dict(flip_prob=0.5, crop_prob=0.5, jitter_prob=0.5, brightness=0.2, gaussian_prob=0.5,
                   gaussian_std=0.1, salt_pepper_prob=0.5, salt_pepper_amount=0.05)
    images = _images()
    np.testing.assert_array_equal(_augment(images, **options), _augment(images, **options))
    assert not np.array_equal(_augment(images, **options), _augment(images, tf.constant([7, 12]), **options))


@pytest.mark.parametrize("prob", [0.25, 0.7])
def test_per_example_probability(prob):
    images = _images(batch=2000, size=2, channels=1)
    out = _augment(images, flip_prob=prob)
    changed = np.any(out != images.numpy(), axis=(1, 2, 3))
    assert abs(changed.mean() - prob) < 0.04


def test_hue_and_saturation_on_grayscale_are_skipped():
    images = _images(channels=1)
    out = _augment(images, jitter_prob=1.0, saturation=0.5, hue=0.3)
    np.testing.assert_array_equal(out, images)
    out = _augment(images, jitter_prob=1.0, saturation=0.5, hue=0.3, contrast=0.5)
    assert out.shape == (8, 16, 16, 1)


def test_hue_and_saturation_on_rgb():
    gray = tf.fill([8, 4, 4, 3], 0.4)
    np.testing.assert_allclose(_augment(gray, jitter_prob=1.0, saturation=0.9, hue=0.4), gray, atol=1e-6)
    red = tf.concat([tf.fill([8, 4, 4, 1], 0.9), tf.fill([8, 4, 4, 2], 0.1)], axis=-1)
    out = _augment(red, jitter_prob=1.0, hue=0.4)
    assert np.abs(out - red.numpy()).max() > 0.1
    np.testing.assert_allclose(out.max(axis=-1), 0.9, atol=1e-5)  # Hue keeps the value channel.


def test_works_inside_tf_function_with_unknown_batch():
    options = AugmentConfig(flip_prob=0.5, crop_prob=0.5, poisson_prob=0.5, jitter_prob=0.5, hue=0.1)
    signature = [tf.TensorSpec([None, 8, 8, 3]), tf.TensorSpec([2], tf.int64)]
    fn = tf.function(lambda x, s: augment_batch(x, s, options), input_signature=signature)
    assert fn(_images(batch=5, size=8), SEED).shape == (5, 8, 8, 3)


def test_reflect_padding_larger_than_image_fails_clearly():
    with pytest.raises(ValueError, match="reflect padding 4 must be smaller than the image"):
        _augment(_images(size=4), crop_prob=1.0, crop_padding=4)
    assert _augment(_images(size=4), crop_prob=1.0, crop_padding=4, crop_mode="zero").shape == (8, 4, 4, 3)
