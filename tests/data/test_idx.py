"""IDX reading (MNIST / Fashion-MNIST): round trip, header checks, search paths."""

import os

import numpy as np
import pytest

from robustkit.data import DataError, idx, load_split, synthetic

# The real files: $FASHION_MNIST_DIR (the Makefile exports it), else where Debian's package puts them.
FASHION_DIR = os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"


def _arrays(count, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count, dtype=np.uint8)


@pytest.mark.parametrize("gzip", [True, False])
def test_round_trip_is_exact(tmp_path, gzip):
    images, labels = _arrays(7)
    synthetic.write_idx(str(tmp_path), images, labels, prefix="t10k", gzip=gzip)
    read_images, read_labels = idx.read_idx_split(str(tmp_path), "t10k")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_load_split_from_dir_with_limit(tmp_path):
    images, labels = _arrays(9, seed=1)
    synthetic.write_idx(str(tmp_path), images, labels, prefix="train")
    options = idx.MnistConfig(dir=str(tmp_path))
    source = load_split(options, "train", limit=5)
    assert (source.num_examples, source.num_classes, source.image_shape) == (5, 10, (28, 28, 1))
    assert source.class_names == [str(i) for i in range(10)]
    examples = list(source.dataset.as_numpy_iterator())
    assert len(examples) == 5
    np.testing.assert_array_equal(np.stack([e["image"][..., 0] for e in examples]), images[:5])
    assert [e["label"] for e in examples] == labels[:5].tolist()
    assert examples[0]["label"].dtype == np.int64 and examples[0]["image"].dtype == np.uint8
    assert load_split(options, "train", limit=100).num_examples == 9


def test_mnist_npz_cache(tmp_path):
    images, labels = _arrays(4, seed=2)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    source = load_split(idx.MnistConfig(dir=str(tmp_path)), "test")
    assert source.num_examples == 2
    first = next(source.dataset.as_numpy_iterator())
    np.testing.assert_array_equal(first["image"][..., 0], images[0])


def test_bad_magic_names_the_file(tmp_path):
    images, labels = _arrays(3)
    images_path, _ = synthetic.write_idx(str(tmp_path), images, labels, gzip=False)
    with open(images_path, "r+b") as f:
        f.write((0x0801).to_bytes(4, "big"))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte has magic number 0x00000801; expected 0x00000803"):
        idx.read_idx_split(str(tmp_path), "train")


def test_truncated_file_names_the_file(tmp_path):
    images, labels = _arrays(3)
    images_path, _ = synthetic.write_idx(str(tmp_path), images, labels, gzip=False)
    with open(images_path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(DataError, match="train-images-idx3-ubyte holds 100 bytes"):
        idx.read_idx_split(str(tmp_path), "train")


def test_count_mismatch_names_both_files(tmp_path):
    images, labels = _arrays(5)
    synthetic.write_idx(str(tmp_path), images, labels, prefix="train")
    synthetic.write_idx(str(tmp_path / "other"), images[:3], labels[:3], prefix="train")
    os.replace(tmp_path / "other" / "train-labels-idx1-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match=r"holds 5 images but .*train-labels-idx1-ubyte.gz holds 3 labels"):
        load_split(idx.FashionMnistConfig(dir=str(tmp_path)), "train")


def test_missing_dir_lists_places_and_fix(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DataError) as info:
        load_split(idx.FashionMnistConfig(dir=missing), "test")
    message = str(info.value)
    assert missing in message and "t10k-images-idx3-ubyte" in message
    assert "data.dir" in message and "apt-get install dataset-fashion-mnist" in message


def test_default_search_order(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    places = [path for _, path in idx._candidates(idx.MnistConfig(), "mnist")]
    assert places == [str(tmp_path / ".keras/datasets/mnist"), str(tmp_path / ".keras/datasets/mnist.npz")]
    places = [path for _, path in idx._candidates(idx.FashionMnistConfig(), "fashion_mnist")]
    assert places == [FASHION_DIR, str(tmp_path / ".keras/datasets/fashion-mnist")]
    with pytest.raises(DataError, match=r"\.keras/datasets/mnist \(IDX files\); .*mnist\.npz \(Keras npz\)"):
        load_split(idx.MnistConfig(), "train")


def test_unknown_split_lists_known(tmp_path):
    with pytest.raises(DataError, match="no split 'val'; known splits: train, test"):
        load_split(idx.MnistConfig(dir=str(tmp_path)), "val")


@pytest.mark.skipif(
    not os.path.isdir(FASHION_DIR),
    reason=f"{FASHION_DIR} absent (set $FASHION_MNIST_DIR, or apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist():
    options = idx.FashionMnistConfig(dir=FASHION_DIR)
    train = load_split(options, "train")
    test = load_split(options, "test", limit=3)
    assert (train.num_examples, train.image_shape, train.num_classes) == (60000, (28, 28, 1), 10)
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    assert test.num_examples == 3
    full_test = load_split(options, "test")
    assert full_test.num_examples == 10000
    labels = np.array([e["label"] for e in test.dataset.as_numpy_iterator()])
    assert labels.tolist() == [9, 2, 1]  # The first three test labels of Fashion-MNIST.
