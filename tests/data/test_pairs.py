"""Pair sources: TFDS mnist_corrupted (mocked), the local corruption builder, rotation bundles."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from robustkit import config
from robustkit.data import DataError, corruptions, pairs
from robustkit.data.pairs import CorruptedConfig, MnistCorruptedConfig, RotationConfig, load_pairs
from tests import helpers


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    return helpers.write_learnable_idx(tmp_path_factory.mktemp("idx"), train=40, test=20)


def test_mocked_mnist_corrupted_pairs_agree_and_split_70_15_15():
    with tfds.testing.mock_data(num_examples=40):
        splits = load_pairs(MnistCorruptedConfig(corruption="fog"))
    assert [splits[s].num_examples for s in pairs.SPLITS] == [28, 6, 6]
    for split in splits.values():
        assert split.clean.shape[1:] == (28, 28, 1) and split.clean.dtype == np.uint8
        assert split.labels.dtype == np.int64 and not split.is_bundle
    union = np.concatenate([splits[s].labels for s in pairs.SPLITS])
    assert len(union) == 40


def test_mocked_dataset_splits_and_limits():
    with tfds.testing.mock_data(num_examples=12):
        splits = load_pairs(MnistCorruptedConfig(corruption="shot_noise", splits="dataset", eval_limit=5))
    assert splits["train"].num_examples == 12 and splits["test"].num_examples == 5
    np.testing.assert_array_equal(splits["val"].labels, splits["test"].labels)


def _as_dataset_with_labels(shift_for_corruption: int):
    def as_dataset(self, *args, **kwargs):
        shift = 0 if self.builder_config.name == "identity" else shift_for_corruption
        examples = {"image": np.zeros((10, 28, 28, 1), np.uint8), "label": (np.arange(10) + shift) % 10}
        return tf.data.Dataset.from_tensor_slices(examples)

    return as_dataset


def test_pairs_whose_labels_agree_are_paired():
    with tfds.testing.mock_data(as_dataset_fn=_as_dataset_with_labels(0)):
        splits = load_pairs(MnistCorruptedConfig(corruption="zigzag", splits="dataset"))
    np.testing.assert_array_equal(splits["train"].labels, np.arange(10))


def test_pairs_whose_labels_disagree_are_refused():
    with tfds.testing.mock_data(as_dataset_fn=_as_dataset_with_labels(1)):
        with pytest.raises(DataError, match=r"refusing to pair mnist_corrupted/identity with mnist_corrupted/"
                                            r"zigzag \(train\): 10 of 10 labels disagree \(first at example 0"):
            load_pairs(MnistCorruptedConfig(corruption="zigzag", splits="dataset"))


def test_check_labels_agree_counts():
    pairs.check_labels_agree(np.arange(3), np.arange(3), "c", "test")
    with pytest.raises(DataError, match="hold 3 and 2 examples"):
        pairs.check_labels_agree(np.arange(3), np.arange(2), "c", "test")


def test_local_builder_corrupts_a_registered_dataset(idx_dir):
    options = CorruptedConfig(dataset="mnist", dir=idx_dir, corruption="shot_noise", pool=["train", "test"])
    splits = load_pairs(options)
    assert [splits[s].num_examples for s in pairs.SPLITS] == [42, 9, 9]
    again = load_pairs(options)
    for split in pairs.SPLITS:
        one, two = splits[split], again[split]
        np.testing.assert_array_equal(one.corrupted, two.corrupted)
        np.testing.assert_array_equal(one.labels, two.labels)
        assert not np.array_equal(one.clean, one.corrupted)
    other = load_pairs(CorruptedConfig(dataset="mnist", dir=idx_dir, corruption="shot_noise", pool=["train", "test"],
                                       seed=1))
    assert not np.array_equal(other["train"].clean, splits["train"].clean), "the seed also reshuffles the split"


def test_local_builder_corruption_follows_the_example_not_the_split(idx_dir):
    own = load_pairs(CorruptedConfig(dataset="mnist", dir=idx_dir, corruption="fog", splits="dataset"))
    direct = corruptions.corrupt(own["train"].clean, "fog", seed=0)
    np.testing.assert_array_equal(own["train"].corrupted, direct)


def test_rotation_bundles(idx_dir):
    flat = load_pairs(RotationConfig(dataset="mnist", dir=idx_dir, theta_max=0.0, splits="dataset"))
    for split in flat.values():
        np.testing.assert_array_equal(split.corrupted, split.clean)
        np.testing.assert_array_equal(split.corrupted2, split.clean)
        assert (split.theta == 0).all()
    bundles = load_pairs(RotationConfig(dataset="mnist", dir=idx_dir, splits="dataset", seed=4))
    train = bundles["train"]
    assert train.is_bundle and np.abs(train.theta).max() <= 20.0 and np.std(train.theta) > 5.0
    x = train.clean[:3].astype(np.float32) / 255.0
    expected = corruptions.rotate_batch(x, 2.0 * train.theta[:3])
    np.testing.assert_allclose(train.corrupted2[:3] / 255.0, expected, atol=0.5 / 255 + 1e-6)
    again = load_pairs(RotationConfig(dataset="mnist", dir=idx_dir, splits="dataset", seed=4))
    np.testing.assert_array_equal(again["train"].theta, train.theta)


def test_pipeline_batches_floats(idx_dir):
    bundles = load_pairs(RotationConfig(dataset="mnist", dir=idx_dir, splits="dataset"))
    batch = next(iter(pairs.make_pair_pipeline(bundles["test"], 8, training=True, seed=0)))
    assert set(batch) == {"image", "perturbed", "perturbed2", "theta", "label"}
    assert batch["image"].dtype == tf.float32 and batch["image"].shape == (8, 28, 28, 1)
    assert float(tf.reduce_max(batch["perturbed"])) <= 1.0 and batch["label"].dtype == tf.int64


def test_rgb_datasets_and_unknown_sources_fail_clearly(idx_dir):
    with pytest.raises(DataError, match="pairs are built from"):
        load_pairs(CorruptedConfig(dataset="tiny_imagenet", dir=idx_dir))


@pytest.mark.parametrize("data, message", [
    ({"name": "corrupted", "corruption": "snow"}, "data.corruption = 'snow'"),
    ({"name": "rotation", "fractions": [0.5, 0.5]}, "three positive shares"),
    ({"name": "rotation", "theta_max": 120}, "theta_max"),
    ({"name": "mnist_corrupted", "severity": 2}, "'data.severity' is not a known key"),
])
def test_config_validation(data, message):
    import dataclasses

    @dataclasses.dataclass
    class _Job:
        data: pairs.PairDataConfig = dataclasses.field(default_factory=CorruptedConfig,
                                                       metadata={"registry": lambda: pairs.PAIR_SOURCES})

    with pytest.raises(config.ConfigError, match=message):
        config.parse(_Job, {"data": data})
