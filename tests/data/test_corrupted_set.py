"""The corrupted test set: outputs in range, chunk-independent parallel builds, and the on-disk cache."""

import multiprocessing
import os

import numpy as np
import pytest

from robustkit.data import corrupted_set, corruptions
from robustkit.data.options import CORRUPTION_NAMES, DEFAULT_SEVERITY
from tests.helpers import learnable_images

BLOCKS = corrupted_set.entries(["identity", "shot_noise", "glass_blur", "zigzag"], [1, 5])


def _images(n: int = 12) -> np.ndarray:
    return learnable_images(n, seed=3)[0][..., None]


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_outputs_stay_in_range_with_the_input_shape_and_dtype(name, dtype):
    images = _images(3)
    if dtype != "uint8":
        images = (images / 255.0).astype(dtype)[..., 0]  # [N, H, W] as well as [N, H, W, 1].
    for severity in ([1, 5] if name in DEFAULT_SEVERITY else [None]):
        out = corruptions.corrupt(images, name, seed=4, severity=severity)
        assert out.shape == images.shape and out.dtype == images.dtype, (name, severity)
        if dtype != "uint8":
            assert out.min() >= 0.0 and out.max() <= 1.0, (name, severity, out.min(), out.max())


def test_blocks_cover_every_severity_once_and_the_rest_once():
    blocks = corrupted_set.entries(CORRUPTION_NAMES, [1, 2, 3, 4, 5])
    assert len(blocks) == 11 * 5 + 5 and len(set(blocks)) == len(blocks)
    assert ("identity", None) in blocks and ("stripe", None) in blocks and ("fog", 3) in blocks


def test_a_build_is_the_same_in_any_chunks_and_processes():
    images, labels = _images(), np.arange(12)
    one = corrupted_set.build(images, labels, BLOCKS, seed=7, workers=1, chunk=12)
    assert one.images.shape == (len(BLOCKS), 12, 28, 28, 1) and one.images.dtype == np.uint8
    np.testing.assert_array_equal(one.images[0], images)  # identity
    np.testing.assert_array_equal(one.images[1], corruptions.corrupt(images, "shot_noise", seed=7, severity=1))
    for workers, chunk in ((1, 5), (2, 4)):
        other = corrupted_set.build(images, labels, BLOCKS, seed=7, workers=workers, chunk=chunk)
        np.testing.assert_array_equal(other.images, one.images)


def test_a_cached_set_equals_a_fresh_build_bit_for_bit(tmp_path):
    images, labels = _images(), np.arange(12)
    first = corrupted_set.load_or_build(images, labels, BLOCKS, 7, str(tmp_path), workers=1, chunk=5)
    second = corrupted_set.load_or_build(images, labels, BLOCKS, 7, str(tmp_path), workers=1)
    fresh = corrupted_set.build(images, labels, BLOCKS, seed=7, workers=1)
    assert (first.source, second.source) == ("built", "cache") and second.path == first.path
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(np.asarray(second.images), fresh.images)
    np.testing.assert_array_equal(np.asarray(first.images), fresh.images)
    assert os.listdir(tmp_path) == [os.path.basename(first.path)]  # No temporary directory left behind.


def test_a_changed_seed_images_or_implementation_makes_a_new_key(tmp_path, monkeypatch):
    images = _images()
    key = corrupted_set.cache_key(images, BLOCKS, 7)
    assert corrupted_set.cache_key(images, BLOCKS, 8) != key
    assert corrupted_set.cache_key(images, BLOCKS[:-1], 7) != key
    changed = images.copy()
    changed[0, 0, 0, 0] ^= 1
    assert corrupted_set.cache_key(changed, BLOCKS, 7) != key
    edited = tmp_path / "corruptions.py"
    edited.write_bytes(open(corruptions.__file__, "rb").read() + b"\n# edited\n")
    monkeypatch.setattr(corruptions, "__file__", str(edited))
    assert corrupted_set.cache_key(images, BLOCKS, 7) != key


def _killed_build(images, labels, root):
    """Builds in this (forked) process and dies without cleaning up after the second chunk, as if killed."""
    done = []
    original = corrupted_set._corrupt_chunk

    def chunk_then_die(*args):
        if len(done) == 2:
            os._exit(9)
        done.append(1)
        return original(*args)

    corrupted_set._corrupt_chunk = chunk_then_die
    corrupted_set.load_or_build(images, labels, BLOCKS, 7, root, workers=1, chunk=4)


def test_an_interrupted_build_is_built_again_not_read_as_whole(tmp_path):
    images, labels = _images(), np.arange(12)
    child = multiprocessing.get_context("fork").Process(target=_killed_build, args=(images, labels, str(tmp_path)))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    again = corrupted_set.load_or_build(images, labels, BLOCKS, 7, str(tmp_path), workers=1)
    assert again.source == "built"
    np.testing.assert_array_equal(np.asarray(again.images),
                                  corrupted_set.build(images, labels, BLOCKS, seed=7, workers=1).images)


def test_a_damaged_cache_is_built_again(tmp_path):
    images, labels = _images(), np.arange(12)
    first = corrupted_set.load_or_build(images, labels, BLOCKS, 7, str(tmp_path), workers=1)
    with open(os.path.join(first.path, "images.npy"), "r+b") as f:
        f.truncate(1000)
    again = corrupted_set.load_or_build(images, labels, BLOCKS, 7, str(tmp_path), workers=1)
    assert again.source == "built"
    np.testing.assert_array_equal(np.asarray(again.images), corrupted_set.build(images, labels, BLOCKS, 7).images)


def test_colour_images_and_unknown_blocks_are_refused():
    with pytest.raises(ValueError, match=r"grayscale images \[N, H, W, 1\], got shape \(2, 28, 28, 3\)"):
        corrupted_set.build(np.zeros((2, 28, 28, 3), np.uint8), np.zeros(2), BLOCKS)
    with pytest.raises(ValueError, match="corruption 'stripe' with severity 2"):
        corrupted_set.build(_images(2), np.zeros(2), [("stripe", 2)])


def test_a_stored_mnist_corrupted_is_read_config_by_config_with_identity_the_clean_images():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    clean = _images(10)
    labels = np.arange(10) % 4

    def as_dataset(self, *args, **kwargs):
        fill = 1 + len(self.builder_config.name)  # Tells the configs apart.
        return tf.data.Dataset.from_tensor_slices({"image": np.full((10, 28, 28, 1), fill, np.uint8),
                                                   "label": labels})

    blocks = corrupted_set.stored_entries("mnist_corrupted", ["identity", "fog", "zigzag"], [1, 2])
    assert blocks == [("identity", None), ("fog", 5), ("zigzag", None)]
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        stored = corrupted_set.load_stored("mnist_corrupted", blocks, (clean, labels))
    assert stored.source == "tfds:mnist_corrupted" and stored.images.shape == (3, 10, 28, 28, 1)
    np.testing.assert_array_equal(stored.images[0], clean)
    assert (stored.images[1] == 1 + len("fog")).all() and (stored.images[2] == 1 + len("zigzag")).all()
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        with pytest.raises(Exception, match="labels differ from the evaluation labels"):
            corrupted_set.load_stored("mnist_corrupted", blocks, (clean, labels + 1))


def test_a_stored_set_that_is_not_prepared_gets_the_offline_message(tmp_path):
    from robustkit.data.source import DataError

    with pytest.raises(DataError, match=r"TFDS dataset 'cifar10_corrupted/fog_3' is not available: it is not "
                                        r"prepared and data.download is false"):
        clean = (np.zeros((2, 32, 32, 3), np.uint8), np.zeros(2))
        corrupted_set.load_stored("cifar10_corrupted", [("fog", 3)], clean, data_dir=str(tmp_path))
