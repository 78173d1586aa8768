"""Config parsing: defaults, overrides, errors that name the key, and every shipped config."""

import dataclasses
import glob
import os
from typing import List, Literal, Optional

import pytest

from robustkit import config as config_lib
from robustkit.config import ConfigError
from robustkit.training.config import TrainJob

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class _Inner:
    rate: float = 0.1
    mode: Literal["a", "b"] = "a"
    sizes: List[int] = dataclasses.field(default_factory=lambda: [1, 2])
    limit: Optional[int] = None


@dataclasses.dataclass
class _Outer:
    inner: _Inner = dataclasses.field(default_factory=_Inner)
    flag: bool = False


def test_defaults_and_values():
    cfg = config_lib.parse(_Outer, {"inner": {"rate": 2, "mode": "b", "sizes": [3], "limit": None}, "flag": True})
    assert cfg == _Outer(_Inner(rate=2.0, mode="b", sizes=[3], limit=None), flag=True)
    assert isinstance(cfg.inner.rate, float)
    assert config_lib.parse(_Outer, None) == _Outer()


def test_yaml_exponent_strings_read_as_floats():
    assert config_lib.parse(_Outer, {"inner": {"rate": "1e-3"}}).inner.rate == pytest.approx(1e-3)


def test_misspelt_key_suggests_the_nearest():
    with pytest.raises(ConfigError, match=r"key 'inner\.rat' is not a known key; did you mean 'inner\.rate'\?"):
        config_lib.parse(_Outer, {"inner": {"rat": 1.0}}, source="x.yaml")


@pytest.mark.parametrize(
    "data, pattern",
    [
        ({"flag": "yes"}, r"key 'flag' has value 'yes'; expected a boolean"),
        ({"inner": {"limit": 1.5}}, r"key 'inner\.limit' has value 1\.5; expected int or null"),
        ({"inner": {"mode": "c"}}, r"key 'inner\.mode' has value 'c'; expected one of 'a', 'b'"),
        ({"inner": {"sizes": [1, "x"]}}, r"key 'inner\.sizes\[1\]' has value 'x'; expected an integer"),
        ({"inner": 3}, r"key 'inner' has value 3; expected a mapping"),
        ({"inner": {"rate": True}}, r"key 'inner\.rate' has value True; expected a number"),
    ],
)
def test_wrong_types_name_key_value_and_type(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_lib.parse(_Outer, data, source="x.yaml")


def test_overrides_are_yaml_and_create_sections():
    data = config_lib.apply_overrides({"train": {"epochs": 5}}, ["train.epochs=2", "run.name=abc", "data.dir=null"])
    assert data == {"train": {"epochs": 2}, "run": {"name": "abc"}, "data": {"dir": None}}


@pytest.mark.parametrize("bad", ["train.epochs", "=3", "a..b=1", "train.epochs.x=1"])
def test_bad_overrides_fail(bad):
    with pytest.raises(ConfigError):
        config_lib.apply_overrides({"train": {"epochs": 5}}, [bad])


def test_train_job_defaults_resolve():
    job = config_lib.parse(TrainJob, {"run": {"name": "exp"}})
    assert job.run.dir == os.path.join("runs", "exp")
    assert job.export.name == "exp" and job.export.dir == "saved_models"
    assert job.model.name == "small_cnn" and job.data.name == "fashion_mnist"
    assert job.data.train_limit is None and job.data.eval_limit is None


def test_component_keys_follow_the_chosen_name():
    job = config_lib.parse(TrainJob, {"model": {"name": "mobilenetv2", "alpha": 0.5, "input_size": 64}})
    assert (job.model.alpha, job.model.input_size) == (0.5, 64)
    with pytest.raises(ConfigError, match=r"'model\.alpha' is not a known key"):
        config_lib.parse(TrainJob, {"model": {"name": "small_cnn", "alpha": 0.5}})
    with pytest.raises(ConfigError, match=r"'model\.name' has value 'mobilenet'.*did you mean 'mobilenetv2'"):
        config_lib.parse(TrainJob, {"model": {"name": "mobilenet"}})


def test_value_checks_name_the_key():
    with pytest.raises(ConfigError, match=r"train\.batch_size = 0 must be at least 1"):
        config_lib.parse(TrainJob, {"train": {"batch_size": 0}})
    with pytest.raises(ConfigError, match=r"data\.train_limit = -5"):
        config_lib.parse(TrainJob, {"data": {"train_limit": -5}})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config_lib.load(TrainJob, str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config_lib.load(TrainJob, str(bad))
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        config_lib.load(TrainJob, str(listy))


def test_saved_config_reloads_equal(tmp_path):
    job = config_lib.load(TrainJob, None, ["model.name=mobilenetv2", "train.learning_rate=1e-4", "run.name=r"])
    path = tmp_path / "config.yaml"
    config_lib.save(job, str(path), command="python -m robustkit.train")
    assert path.read_text().startswith("# resolved config; produced by: python -m robustkit.train\n")
    assert config_lib.load(TrainJob, str(path)) == job


TRAIN_CONFIGS = sorted(
    p for p in glob.glob(os.path.join(ROOT, "configs", "*.yaml"))
    if config_lib.read_config(p).get("task", "classifier") == "classifier"
    and "train" in config_lib.read_config(p)
)


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=os.path.basename)
def test_shipped_train_configs_parse(path):
    config_lib.load(TrainJob, path)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml"))), ids=os.path.basename)
def test_every_config_starts_with_its_command(path):
    first = open(path).readline()
    assert first.startswith("# python -m robustkit."), first
    assert os.path.basename(path) in first
