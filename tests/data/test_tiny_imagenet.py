"""Tiny-ImageNet loading from a generated tree of real JPEGs."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from robustkit.data import DataError, load_split, synthetic
from robustkit.data.tiny_imagenet import TinyImageNetConfig

GRAY = "train/n00000001/images/n00000001_2.JPEG"
CORRUPT_TRAIN = "train/n00000002/images/n00000002_1.JPEG"
CORRUPT_VAL = "val/images/val_4.JPEG"


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory) -> synthetic.SyntheticTree:
    """4 classes x 6 train, 2 val a class, 3 test; one grayscale and two corrupt files."""
    root = str(tmp_path_factory.mktemp("tiny") / "tiny-imagenet-200")
    return synthetic.write_tiny_imagenet(
        root, num_classes=4, images_per_class=6, val_per_class=2, test_images=3,
        grayscale=[GRAY], corrupt=[CORRUPT_TRAIN, CORRUPT_VAL], seed=3,
    )


def _examples(source):
    examples = list(source.dataset.as_numpy_iterator())
    return np.stack([e["image"] for e in examples]), np.array([e["label"] for e in examples])


def test_corrupt_file_is_an_error_naming_it(tiny_tree):
    with pytest.raises(DataError) as info:
        load_split(TinyImageNetConfig(dir=tiny_tree.root), "train")
    message = str(info.value)
    assert os.path.join(tiny_tree.root, CORRUPT_TRAIN) in message
    assert "1 of 24" in message and "data.skip_corrupt" in message


def test_skip_corrupt_drops_and_counts(tiny_tree):
    source = load_split(TinyImageNetConfig(dir=tiny_tree.root, skip_corrupt=True), "train")
    assert (source.num_examples, source.skipped) == (23, 1)
    images, labels = _examples(source)
    assert images.shape == (23, 64, 64, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [6, 6, 5, 6]


def test_classes_sorted_named_from_words(tiny_tree):
    source = load_split(TinyImageNetConfig(dir=tiny_tree.root, skip_corrupt=True), "test")
    assert source.class_ids == sorted(tiny_tree.wnids) == tiny_tree.wnids
    with open(os.path.join(tiny_tree.root, "wnids.txt")) as f:
        assert f.read().split() != source.class_ids  # The file is not sorted; the loader sorts.
    assert source.class_names == tiny_tree.class_names
    assert source.num_classes == 4 and source.image_shape == (64, 64, 3)


def test_train_is_round_robin_and_limit_balanced(clean_tree):
    source = load_split(TinyImageNetConfig(dir=clean_tree.root), "train", limit=6)
    _, labels = _examples(source)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]


def test_class_colours_survive_decoding(clean_tree):
    source = load_split(TinyImageNetConfig(dir=clean_tree.root), "train")
    images, labels = _examples(source)
    means = np.stack([images[labels == c].mean(axis=(0, 1, 2)) for c in range(3)])
    assert np.linalg.norm(means[0] - means[1]) > 50 and np.linalg.norm(means[1] - means[2]) > 50


def test_grayscale_and_other_sizes_become_64x64x3(clean_tree):
    source = load_split(TinyImageNetConfig(dir=clean_tree.root), "train")
    images, _ = _examples(source)
    assert images.shape == (12, 64, 64, 3)
    gray_index = 1  # n00000001_0 is the second file in round-robin order.
    gray = images[gray_index].astype(int)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1 and np.abs(gray[..., 1] - gray[..., 2]).max() <= 1
    colour = images[0].astype(int)
    assert np.abs(colour[..., 0] - colour[..., 1]).mean() > 10


def test_val_labels_from_annotations(tiny_tree):
    with pytest.raises(DataError, match="val_4.JPEG"):
        load_split(TinyImageNetConfig(dir=tiny_tree.root), "val")
    source = load_split(TinyImageNetConfig(dir=tiny_tree.root, skip_corrupt=True), "val")
    _, labels = _examples(source)
    expected = [label for rel, label in zip(tiny_tree.files["val"], tiny_tree.labels["val"]) if rel != CORRUPT_VAL]
    assert labels.tolist() == expected and source.skipped == 1


def test_test_split_is_unlabelled(tiny_tree):
    source = load_split(TinyImageNetConfig(dir=tiny_tree.root), "test")
    _, labels = _examples(source)
    assert labels.tolist() == [-1, -1, -1] and labels.dtype == np.int64


def test_words_fallback_to_wnid(tmp_path, clean_tree):
    root = str(tmp_path / "copy")
    shutil.copytree(clean_tree.root, root)
    with open(os.path.join(root, "words.txt"), "w") as f:
        f.write("n00000000\tfirst\n")
    source = load_split(TinyImageNetConfig(dir=root), "test")
    assert source.class_names == ["first", "n00000001", "n00000002"]


def test_missing_dir_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as info:
        load_split(TinyImageNetConfig(dir=str(tmp_path / "absent")), "train")
    message = str(info.value)
    assert str(tmp_path / "absent") in message and "data.dir" in message
    assert "wnids.txt" in message and "val/val_annotations.txt" in message


def test_unknown_split(tiny_tree):
    with pytest.raises(DataError, match="known splits: train, val, test"):
        load_split(TinyImageNetConfig(dir=tiny_tree.root), "validation")


def test_grayscale_file_is_really_one_channel(tiny_tree):
    data = tf.io.read_file(os.path.join(tiny_tree.root, GRAY))
    assert tf.io.decode_jpeg(data).shape[-1] == 1
