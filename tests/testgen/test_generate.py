"""Seeds and generated tests: every kept test lies within r of its seed and carries the seed's label."""

import numpy as np
import pytest

from robustkit.separation.latent import VAECodec
from robustkit.testgen import generate, sampling
from robustkit.testgen.config import SamplingConfig, SeedsConfig
from tests.helpers import learnable_images


def test_seed_selection_random_per_class_and_correct():
    labels = np.repeat(np.arange(3), 10)
    rng = np.random.default_rng(0)
    per_class = generate.select_seeds(labels, SeedsConfig("per_class", 4), rng)
    assert np.bincount(labels[per_class]).tolist() == [4, 4, 4]
    assert len(generate.select_seeds(labels, SeedsConfig("random", 7), rng)) == 7
    correct = labels != 1
    chosen = generate.select_seeds(labels, SeedsConfig("correct", 30), rng, correct)
    assert np.all(correct[chosen]) and len(chosen) == 20
    with pytest.raises(ValueError, match="predictions"):
        generate.select_seeds(labels, SeedsConfig("correct", 3), rng)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pixel_tests_stay_within_r_and_keep_the_seed_label(norm):
    images, labels = learnable_images(6, 3, seed=0)
    images = images[..., None]
    radius = np.array([0.05, 0.1, 0.0, 0.2, 0.3, 0.1]) * (1.0 if norm == "linf" else 10.0)
    tests = generate.pixel_tests(images, labels, radius, norm, SamplingConfig(per_seed=5, attempts=2), 1.0,
                                 np.random.default_rng(0))
    assert tests.accepted.tolist() == [5, 5, 0, 5, 5, 5]  # radius 0: the seed is left out
    assert tests.images.shape == (25, 28, 28, 1) and tests.images.min() >= 0 and tests.images.max() <= 1
    seeds = images.astype(np.float64) / 255.0
    distances = sampling.norms(tests.images.astype(np.float64) - seeds[tests.seed_slots], norm)
    np.testing.assert_allclose(distances, tests.distances)
    assert np.all(distances < radius[tests.seed_slots])
    np.testing.assert_array_equal(tests.labels, labels[tests.seed_slots])


def test_latent_tests_re_encode_within_r_of_the_seed_code(vae_path):
    codec = VAECodec(vae_path, batch_size=64)
    images, labels = learnable_images(8, 4, seed=1)
    codes = codec.encode(images[..., None])[0]
    radius = np.full(8, 0.5)
    tests = generate.latent_tests(codec, codes, labels, radius, "l2",
                                  SamplingConfig(per_seed=4, attempts=3, distribution="truncated_gaussian"),
                                  0.5, np.random.default_rng(0))
    assert len(tests.labels) > 0 and np.all(tests.accepted <= 4)
    again = codec.encode(tests.images)[0]
    distances = np.linalg.norm(again.astype(np.float64) - codes[tests.seed_slots], axis=1)
    np.testing.assert_allclose(distances, tests.distances, rtol=1e-6)
    assert np.all(distances < 0.5) and np.all(tests.drawn_distances < 0.25)
    np.testing.assert_array_equal(tests.labels, labels[tests.seed_slots])
    assert tests.drawn.sum() >= len(tests.labels)


class _DriftCodec:
    """A codec whose encode-decode round trip scales codes by 1.5: re-encoded draws land farther out."""

    image_shape = (1, 1, 2)

    def decode(self, codes):
        return np.asarray(codes, np.float32).reshape(-1, 1, 1, 2)

    def encode(self, images):
        return (1.5 * np.asarray(images, np.float32).reshape(-1, 2),)


def test_latent_tests_are_checked_against_their_own_seed_r():
    # Seeds at code 0 with r = 1 and r = 0.1: a draw u comes back at 1.5 u, so it is kept
    # only when 1.5 |u| < its own seed's r. Checking against the largest r would keep every
    # draw of the second seed, whose re-encoded distances reach 0.15.
    codes = np.zeros((2, 2), np.float32)
    radius = np.array([1.0, 0.1])
    tests = generate.latent_tests(_DriftCodec(), codes, np.array([0, 1]), radius, "l2",
                                  SamplingConfig(per_seed=50, attempts=1), 1.0, np.random.default_rng(0))
    np.testing.assert_allclose(tests.distances, 1.5 * tests.drawn_distances, rtol=1e-5)
    assert np.all(tests.distances < radius[tests.seed_slots])
    assert 0 < tests.accepted[1] < tests.drawn[1] == 50, "some draws of the small-r seed are refused"
