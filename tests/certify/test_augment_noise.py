"""Training noise for smoothing: ``data.augment.smoothing_sigma`` on every example, after the clip, unclipped."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit import config as config_lib
from robustkit.data.augment import augment_batch
from robustkit.data.options import AugmentConfig, DataConfig


def test_noise_reaches_every_example_unclipped():
    images = np.concatenate([np.zeros((32, 8, 8, 1)), np.ones((32, 8, 8, 1))]).astype(np.float32)
    options = AugmentConfig(smoothing_sigma=0.5, brightness=0.5, jitter_prob=1.0)
    assert options.enabled and not AugmentConfig().enabled
    out = augment_batch(tf.constant(images), tf.constant([1, 2], tf.int64), options).numpy()
    outside = (out < 0.0) | (out > 1.0)
    assert np.all(np.any(outside, axis=(1, 2, 3))) and np.all(np.any(out[32:] > 1.0, axis=(1, 2, 3)))
    # Every example carries noise of standard deviation sigma, on top of the clipped jitter.
    assert np.allclose(out.reshape(64, -1).std(axis=1), 0.5, atol=0.12)
    again = augment_batch(tf.constant(images), tf.constant([1, 2], tf.int64), options).numpy()
    np.testing.assert_array_equal(out, again)


def test_a_negative_sigma_is_a_config_error_naming_the_key():
    with pytest.raises(config_lib.ConfigError, match="augment.smoothing_sigma = -0.1"):
        config_lib.parse(DataConfig, {"augment": {"smoothing_sigma": -0.1}})
