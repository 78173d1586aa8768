"""Composed configs: ``base:`` files, several ``--config`` files, and the quickstart built on its base."""

import importlib
import os

import pytest
import yaml

from robustkit import config as config_lib
from robustkit.config import ConfigError
from robustkit.training.config import TrainJob

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
train_cli = importlib.import_module("robustkit.train")

# configs/quickstart_nsl.yaml written out in full, without a base.
QUICKSTART_NSL = {
    "run": {"name": "quickstart_nsl", "seed": 0},
    "data": {"name": "fashion_mnist", "dir": None, "train_limit": 20000, "eval_limit": 2000,
             "augment": {"flip_prob": 0.5}},
    "model": {"name": "mobilenetv2", "input_size": 32, "alpha": 0.35, "dropout": 0.1, "weights": "none",
              "bn_momentum": 0.9},
    "train": {"epochs": 1, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.002,
              "init_from": "saved_models/quickstart_base"},
    "adversarial": {"enabled": True, "norm": "linf", "multiplier": 1.0, "step_size": 0.04, "pgd_iterations": 3,
                    "pgd_epsilon": 0.1},
    "distribute": {"strategy": "auto"},
    "export": {"dir": "saved_models", "name": "quickstart_nsl"},
}


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _printed(capsys, argv):
    assert train_cli.main([*argv, "--print-config"]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_the_file_merges_over_its_base_mappings_by_key_and_lists_whole(tmp_path):
    _write(tmp_path / "base.yaml", {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "items": [1, 2, 3], "s": "x"})
    child = _write(tmp_path / "child.yaml", {"base": "base.yaml", "a": {"c": {"e": 4}}, "items": [9]})
    assert config_lib.read_config(child) == {"a": {"b": 1, "c": {"d": 2, "e": 4}}, "items": [9], "s": "x"}


def test_a_list_of_bases_merges_in_order(tmp_path):
    _write(tmp_path / "one.yaml", {"a": {"x": 1, "y": 1}})
    _write(tmp_path / "two.yaml", {"a": {"y": 2, "z": 2}})
    child = _write(tmp_path / "child.yaml", {"base": ["one.yaml", "two.yaml"], "a": {"z": 3}})
    assert config_lib.read_config(child) == {"a": {"x": 1, "y": 2, "z": 3}}


def test_base_paths_are_relative_to_the_file_that_names_them(tmp_path, monkeypatch):
    _write(tmp_path / "shared" / "base.yaml", {"k": "from base"})
    _write(tmp_path / "sub" / "child.yaml", {"base": "../shared/base.yaml"})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert config_lib.read_config(str(tmp_path / "sub" / "child.yaml")) == {"k": "from base"}
    monkeypatch.chdir(tmp_path)
    assert config_lib.read_config(os.path.join("sub", "child.yaml")) == {"k": "from base"}


def test_a_base_may_have_its_own_base_relative_to_itself(tmp_path):
    _write(tmp_path / "p" / "g" / "grand.yaml", {"a": 1, "b": 1, "c": 1})
    _write(tmp_path / "p" / "parent.yaml", {"base": "g/grand.yaml", "b": 2, "c": 2})
    child = _write(tmp_path / "c" / "child.yaml", {"base": "../p/parent.yaml", "c": 3})
    assert config_lib.read_config(child) == {"a": 1, "b": 2, "c": 3}


def test_a_cycle_of_bases_is_refused(tmp_path):
    a = _write(tmp_path / "a.yaml", {"base": "b.yaml", "x": 1})
    _write(tmp_path / "b.yaml", {"base": "a.yaml", "y": 1})
    with pytest.raises(ConfigError, match=r"key 'base' names 'a\.yaml', which makes a cycle of bases"):
        config_lib.read_config(a)
    itself = _write(tmp_path / "self.yaml", {"base": "self.yaml"})
    with pytest.raises(ConfigError, match="cycle of bases"):
        config_lib.read_config(itself)


def test_the_same_base_twice_in_a_diamond_is_not_a_cycle(tmp_path):
    _write(tmp_path / "root.yaml", {"r": 1})
    _write(tmp_path / "left.yaml", {"base": "root.yaml", "left": 1})
    _write(tmp_path / "right.yaml", {"base": "root.yaml", "right": 1})
    child = _write(tmp_path / "child.yaml", {"base": ["left.yaml", "right.yaml"]})
    assert config_lib.read_config(child) == {"r": 1, "left": 1, "right": 1}


def test_a_missing_base_is_refused_naming_the_file_and_the_key(tmp_path):
    child = _write(tmp_path / "child.yaml", {"base": "nope.yaml"})
    with pytest.raises(ConfigError) as err:
        config_lib.read_config(child)
    message = str(err.value)
    assert child in message and "key 'base'" in message and "nope.yaml" in message and "does not exist" in message


@pytest.mark.parametrize("bad", [3, None, ["ok.yaml", 4], {"path": "ok.yaml"}, ""])
def test_a_base_that_is_not_paths_is_refused(tmp_path, bad):
    _write(tmp_path / "ok.yaml", {})
    child = _write(tmp_path / "child.yaml", {"base": bad})
    with pytest.raises(ConfigError, match=r"child\.yaml'?: key 'base' has value .*expected a path or a list of paths"):
        config_lib.read_config(child)


def test_a_based_config_validates_without_the_base_key(tmp_path):
    _write(tmp_path / "base.yaml", {"train": {"epochs": 2, "batch_size": 16}})
    child = _write(tmp_path / "child.yaml", {"base": "base.yaml", "train": {"epochs": 5}})
    job = config_lib.load(TrainJob, child)
    assert (job.train.epochs, job.train.batch_size) == (5, 16)
    assert "base" not in config_lib.to_dict(job)


def test_several_config_flags_apply_in_order_then_set(tmp_path, capsys):
    first = _write(tmp_path / "first.yaml", {"run": {"name": "first"}, "train": {"epochs": 2, "batch_size": 16}})
    second = _write(tmp_path / "second.yaml", {"train": {"epochs": 5, "optimizer": "adam"}})

    def train(printed):
        return printed["train"]["epochs"], printed["train"]["optimizer"], printed["train"]["batch_size"]

    printed = _printed(capsys, ["--config", first, "--config", second, "--set", "train.batch_size=8"])
    assert printed["run"]["name"] == "first" and train(printed) == (5, "adam", 8)
    assert train(_printed(capsys, ["--config", second, "--config", first])) == (2, "adam", 16)
    printed = _printed(capsys, ["--config", first, "--config", second, "--set", "train.epochs=7"])
    assert printed["train"]["epochs"] == 7


def test_one_config_flag_still_works(tmp_path, capsys):
    only = _write(tmp_path / "only.yaml", {"train": {"epochs": 4}})
    assert _printed(capsys, ["--config", only])["train"]["epochs"] == 4


QUICKSTART = os.path.join(ROOT, "configs", "quickstart_nsl.yaml")


def test_quickstart_nsl_is_short_and_builds_on_the_base_config():
    lines = [line for line in open(QUICKSTART) if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) <= 16, lines
    assert config_lib.read_yaml(QUICKSTART)["base"] == "quickstart_base.yaml"


def test_quickstart_nsl_resolves_as_its_full_form(capsys):
    expected = config_lib.to_dict(config_lib.parse(TrainJob, QUICKSTART_NSL))
    assert config_lib.to_dict(config_lib.load(TrainJob, QUICKSTART)) == expected
    printed = _printed(capsys, ["--config", QUICKSTART])
    assert printed == expected and "base" not in printed
