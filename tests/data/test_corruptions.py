"""The MNIST-C corruptions: determinism, shapes and dtypes, known answers."""

import numpy as np
import pytest
from scipy import ndimage

from robustkit.data import corruptions, options

NAMES = corruptions.names()
RANDOM = [n for n in NAMES if n not in ("identity", "scale", "brightness", "stripe", "canny_edges")]


@pytest.fixture(scope="module")
def images():
    """Four 28x28 uint8 images: a bright off-centre block and a ring on a dark, slightly noisy ground."""
    rng = np.random.default_rng(0)
    out = rng.integers(0, 30, size=(4, 28, 28), dtype=np.uint8)
    out[:, 6:16, 9:20] = 220
    rows, cols = np.mgrid[:28, :28]
    ring = np.abs(np.hypot(rows - 17, cols - 14) - 6) < 1.5
    out[:, ring] = 180
    return out


def test_names_are_the_tfds_configs():
    assert NAMES == ["identity", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale",
                     "rotate", "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
                     "canny_edges"]


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_shape_dtype_range_and_changes_the_image(images, name):
    first = corruptions.corrupt(images, name, seed=3)
    again = corruptions.corrupt(images, name, seed=3)
    np.testing.assert_array_equal(first, again)
    assert first.shape == images.shape and first.dtype == np.uint8
    floats = corruptions.corrupt(images[..., None].astype(np.float32) / 255.0, name, seed=3)
    assert floats.shape == (4, 28, 28, 1) and floats.dtype == np.float32
    assert floats.min() >= 0.0 and floats.max() <= 1.0
    if name == "identity":
        np.testing.assert_array_equal(first, images)
    else:
        assert np.abs(first.astype(int) - images).mean() > 1.0, f"{name} barely changed the images"


@pytest.mark.parametrize("name", RANDOM)
def test_the_seed_matters_and_chunking_does_not(images, name):
    assert not np.array_equal(corruptions.corrupt(images, name, seed=1), corruptions.corrupt(images, name, seed=2))
    whole = corruptions.corrupt(images, name, seed=5)
    parts = [corruptions.corrupt(images[i:i + 2], name, seed=5, indices=[i, i + 1]) for i in (0, 2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


def test_rotate_image_matches_scipy(images):
    x = images[0].astype(np.float64) / 255.0
    expected = ndimage.rotate(x, 17.0, reshape=False, order=1, mode="constant", cval=0.0)
    np.testing.assert_allclose(corruptions.rotate_image(x, 17.0), expected)
    batch = corruptions.rotate_batch(images.astype(np.float32) / 255.0, [17.0, 0.0, -5.0, 90.0])
    np.testing.assert_allclose(batch[0], expected, atol=1e-6)
    np.testing.assert_allclose(batch[1], images[1] / 255.0, atol=1e-6)
    np.testing.assert_allclose(batch[3], np.rot90(images[3] / 255.0), atol=1e-5)


def test_rotate_corruption_turns_by_the_mnist_c_angle(images):
    x = images[:1].astype(np.float32) / 255.0
    out = corruptions.corrupt(x, "rotate", seed=0, severity=2)
    candidates = [ndimage.rotate(x[0], sign * np.rad2deg(0.4), reshape=False, order=1) for sign in (-1, 1)]
    assert min(np.abs(out[0] - np.clip(c, 0, 1)).max() for c in candidates) < 1e-6


def test_known_answers(images):
    x = images[:1].astype(np.float32) / 255.0
    np.testing.assert_allclose(corruptions.corrupt(x, "brightness", severity=1), np.clip(x + 0.1, 0, 1), atol=1e-6)
    striped = corruptions.corrupt(x, "stripe")
    np.testing.assert_allclose(striped[0, :, :7], 1 - x[0, :, :7], atol=1e-6)
    np.testing.assert_allclose(striped[0, :, 7:21], x[0, :, 7:21], atol=1e-6)
    shifted = corruptions.corrupt(x, "translate", seed=0, severity=2)
    assert any(np.allclose(shifted[0], np.roll(np.roll(np.pad(x[0], 2), dy, 0), dx, 1)[2:-2, 2:-2], atol=1e-6)
               for dy in (-2, 2) for dx in (-2, 2)), "translate shifts by exactly 2 pixels on each axis"
    edges = corruptions.corrupt(x, "canny_edges")
    assert set(np.unique(edges)) <= {0.0, 1.0} and edges[0, 10, 14] == 0.0, "edges only, none inside the block"
    assert edges[0, 5:8, 9:20].max() == 1.0, "the block's top edge is found"


def test_bad_arguments(images):
    with pytest.raises(ValueError, match="unknown corruption 'snow'; known corruptions: identity"):
        corruptions.corrupt(images, "snow")
    with pytest.raises(ValueError, match="severity 6"):
        corruptions.corrupt(images, "fog", severity=6)
    with pytest.raises(ValueError, match="corruption 'stripe' has no severities"):
        corruptions.corrupt(images, "stripe", severity=3)
    with pytest.raises(ValueError, match="grayscale"):
        corruptions.corrupt(np.zeros((2, 28, 28, 3), np.uint8), "fog")


def test_configs_validate_against_the_corruptions_there_are():
    assert tuple(corruptions.names()) == options.CORRUPTION_NAMES
    assert set(options.DEFAULT_SEVERITY) < set(options.CORRUPTION_NAMES)
