"""TFDS datasets: mocked data, a really prepared dummy dataset, offline errors."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from robustkit.data import DataError, load_split
from robustkit.data.tfds_source import TfdsConfig


def test_mocked_mnist_shapes_dtypes_and_limit():
    with tfds.testing.mock_data(num_examples=12):
        source = load_split(TfdsConfig(builder="mnist"), "train", limit=5)
        examples = list(source.dataset.as_numpy_iterator())
        full = load_split(TfdsConfig(builder="mnist"), "test")
    assert (source.num_examples, len(examples)) == (5, 5)
    assert source.image_shape == (28, 28, 1) and source.num_classes == 10
    assert source.class_names == [str(i) for i in range(10)]
    for example in examples:
        assert example["image"].shape == (28, 28, 1) and example["image"].dtype == np.uint8
        assert example["label"].dtype == np.int64 and 0 <= example["label"] < 10
    assert full.num_examples == 12


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    """A data_dir holding TFDS's DummyMnist (20 train, 20 test), really prepared."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    tfds.testing.DummyMnist(data_dir=data_dir).download_and_prepare()
    return data_dir


def test_prepared_dataset_and_split_strings(prepared_dir):
    options = TfdsConfig(builder="dummy_mnist", dir=prepared_dir)
    source = load_split(options, "train[:50%]")
    assert source.num_examples == 10 and len(list(source.dataset)) == 10
    assert load_split(options, "test", limit=3).num_examples == 3


def test_unknown_split_lists_splits(prepared_dir):
    with pytest.raises(DataError, match="known splits: train, test"):
        load_split(TfdsConfig(builder="dummy_mnist", dir=prepared_dir), "validation")


def test_missing_feature_names_the_features(prepared_dir):
    with pytest.raises(DataError, match="no feature 'img'.*features: image, label"):
        load_split(TfdsConfig(builder="dummy_mnist", dir=prepared_dir, image_key="img"), "train")


def test_offline_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as info:
        load_split(TfdsConfig(builder="mnist", dir=str(tmp_path)), "train")
    message = str(info.value)
    assert f"{tmp_path}/downloads/manual" in message and f"{tmp_path}/mnist/" in message
    assert "data.download=true" in message


def test_empty_builder_is_an_error():
    with pytest.raises(DataError, match="data.builder is empty"):
        load_split(TfdsConfig(), "train")


def test_unknown_builder_suggests_names(tmp_path):
    with pytest.raises(DataError, match="did you mean.*mnist"):
        load_split(TfdsConfig(builder="mnsit", dir=str(tmp_path)), "train")
