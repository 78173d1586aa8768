"""The dataset registry and config validation of a ``data`` block."""

import dataclasses

import pytest

from robustkit import config
from robustkit.data import DATASETS, DataConfig, load_split
from robustkit.data.tiny_imagenet import TinyImageNetConfig
from robustkit.registry import RegistryError


@dataclasses.dataclass
class _Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig, metadata={"registry": lambda: DATASETS})


def test_registered_names():
    assert DATASETS.names() == ["fashion_mnist", "mnist", "tfds", "tiny_imagenet"]


@pytest.mark.parametrize("name", DATASETS.names())
def test_options_default_to_their_name(name):
    options = DATASETS.options(name)()
    assert isinstance(options, DataConfig) and options.name == name


def test_unknown_dataset_lists_known():
    with pytest.raises(RegistryError, match="known datasets: fashion_mnist, mnist, tfds, tiny_imagenet"):
        load_split(DataConfig(name="cifar"), "train")


def test_parse_dataset_specific_key():
    parsed = config.parse(_Config, {"data": {"name": "tiny_imagenet", "skip_corrupt": True, "eval_limit": 50}})
    assert isinstance(parsed.data, TinyImageNetConfig)
    assert parsed.data.skip_corrupt and parsed.data.eval_limit == 50 and parsed.data.eval_split == "val"


def test_parse_defaults_to_fashion_mnist():
    assert config.parse(_Config, {}).data.name == "fashion_mnist"


def test_parse_misspelt_key_fails():
    with pytest.raises(config.ConfigError, match="data.skip_corupt.*did you mean 'data.skip_corrupt'"):
        config.parse(_Config, {"data": {"name": "tiny_imagenet", "skip_corupt": True}})


def test_parse_key_of_another_dataset_fails():
    with pytest.raises(config.ConfigError, match="data.skip_corrupt"):
        config.parse(_Config, {"data": {"name": "mnist", "skip_corrupt": True}})


def test_parse_augment_and_tfds_keys():
    parsed = config.parse(_Config, {"data": {
        "name": "tfds", "builder": "mnist_corrupted/shot_noise", "augment": {"flip_prob": 0.5, "crop_mode": "zero"},
    }})
    assert parsed.data.builder == "mnist_corrupted/shot_noise" and not parsed.data.download
    assert parsed.data.augment.flip_prob == 0.5 and parsed.data.augment.crop_mode == "zero"
    with pytest.raises(config.ConfigError, match="crop_mode"):
        config.parse(_Config, {"data": {"augment": {"crop_mode": "wrap"}}})
