"""The validate_adv config: attacks keyed by label, checked before any work, and the shipped config."""

import dataclasses
import os
from typing import Dict

import pytest

from robustkit import config as config_lib
from robustkit.config import ConfigError
from robustkit.evaluation.config import ValidateJob
from robustkit.registry import Registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(data):
    return config_lib.parse(ValidateJob, data, source="v.yaml")


def test_defaults_are_a_small_protocol():
    job = _parse({"run": {"name": "v"}})
    assert job.run.dir == os.path.join("runs", "v")
    assert list(job.attacks) == ["fgsm", "pgd", "noise"]
    assert job.attacks["pgd"].iterations == 10 and job.attacks["pgd"].random_start
    assert job.example_attack() == "pgd" and job.example_epsilon() == 0.1


def test_an_attack_is_named_by_its_label_or_its_name_key():
    pgd_l2 = {"name": "pgd", "norm": "l2", "epsilons": [0.5, 2.0]}
    job = _parse({"attacks": {"pgd": {"epsilons": [0.1]}, "pgd_l2": pgd_l2}})
    assert job.attacks["pgd"].name == "pgd" and job.attacks["pgd"].norm == "linf"
    assert job.attacks["pgd_l2"].name == "pgd" and job.attacks["pgd_l2"].epsilons == [0.5, 2.0]


def test_overrides_reach_one_attack_and_false_drops_it():
    data = config_lib.apply_overrides(
        {"attacks": {"pgd": {}, "lbfgs": {"max_examples": 10}}},
        ["attacks.pgd.iterations=3", "attacks.lbfgs=false", "attacks.noise.norm=l2"],
    )
    job = _parse(data)
    assert list(job.attacks) == ["pgd", "noise"]
    assert job.attacks["pgd"].iterations == 3 and job.attacks["noise"].norm == "l2"


@pytest.mark.parametrize(
    "attacks, pattern",
    [
        ({"fgsn": {}},
         r"key 'attacks\.fgsn\.name' has value 'fgsn'; expected one of apgd, autoattack, cvae, fab, fgm, fgsm.*"
         r"did you mean 'fgsm'"),
        ({"x": {"name": "cw"}}, r"key 'attacks\.x\.name' has value 'cw'; expected one of"),
        ({"fgsm": {"epsilons": [0.1, 1.5]}}, r"key 'attacks\.fgsm' is invalid: epsilon 1\.5 is outside \[0, 1\]"),
        ({"pgd": {"epsilons": [-0.1]}}, r"epsilon -0\.1 is outside"),
        ({"pgd": {"iteratons": 3}}, r"key 'attacks\.pgd\.iteratons' is not a known key; did you mean "
                                    r"'attacks\.pgd\.iterations'"),
        ({"fgsm": {"norm": "l2"}}, r"key 'attacks\.fgsm\.norm' is not a known key"),
        ({"transfer": {}}, r"surrogate is empty"),
        ({}, r"attacks is empty"),
        ([1], r"key 'attacks' has value \[1\]; expected a mapping of labels"),
    ],
)
def test_bad_attacks_fail_naming_the_key(attacks, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _parse({"attacks": attacks})


def test_report_choices_are_checked():
    with pytest.raises(ConfigError, match=r"report.attack = 'pgd' is not one of the attacks: fgsm"):
        _parse({"attacks": {"fgsm": {}}, "report": {"attack": "pgd"}})
    with pytest.raises(ConfigError, match=r"report.epsilon = 0.7 is not an epsilon of attack 'fgsm'"):
        _parse({"attacks": {"fgsm": {}}, "report": {"epsilon": 0.7}})


def test_saved_config_reloads_equal(tmp_path):
    job = config_lib.load(ValidateJob, os.path.join(ROOT, "configs", "validate_quickstart.yaml"))
    path = tmp_path / "config.yaml"
    config_lib.save(job, str(path), command="python -m robustkit.validate_adv")
    assert config_lib.load(ValidateJob, str(path)) == job


def test_the_shipped_quickstart_config_parses():
    job = config_lib.load(ValidateJob, os.path.join(ROOT, "configs", "validate_quickstart.yaml"))
    names = {options.name for options in job.attacks.values()}
    assert names == {"fgsm", "pgd", "transfer", "noise", "nsl", "lbfgs", "iaa", "autoattack"}
    assert job.attacks["transfer"].surrogate == "base"
    assert job.attacks["lbfgs"].max_examples and job.attacks["iaa"].max_examples


# The generic parser: a Dict field with registry metadata (robustkit/config.py's `choices`).
@dataclasses.dataclass
class _Small:
    name: str = "small"
    size: int = 1


@dataclasses.dataclass
class _Large:
    name: str = "large"
    size: int = 10
    depth: int = 2


_REGISTRY = Registry("part")
_REGISTRY.register("small", lambda o: o, _Small)
_REGISTRY.register("large", lambda o: o, _Large)


@dataclasses.dataclass
class _Holder:
    parts: Dict[str, object] = dataclasses.field(default_factory=lambda: {"a": _Small()},
                                                 metadata={"registry": lambda: _REGISTRY})


def test_a_registry_dict_field_parses_each_block_by_its_name():
    assert config_lib.parse(_Holder, {}).parts == {"a": _Small()}
    held = config_lib.parse(_Holder, {"parts": {"small": None, "b": {"name": "large", "depth": 3}, "c": False}})
    assert held.parts == {"small": _Small(), "b": _Large(depth=3)}
    with pytest.raises(ConfigError, match=r"key 'parts\.b\.depth' is not a known key"):
        config_lib.parse(_Holder, {"parts": {"b": {"name": "small", "depth": 3}}})
