"""The ``adversarial`` section's norm vocabulary: linf, l2, l1, with NSL's ``infinity`` a deprecated alias."""

import logging

import pytest

from robustkit import config as config_lib
from robustkit.config import ConfigError
from robustkit.training.config import AdversarialConfig, TrainJob


def _deprecations(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "deprecated" in r.getMessage()]


@pytest.mark.parametrize("method, extra", [("nsl", {}), ("pgd", {"epsilon": 0.1}), ("trades", {"epsilon": 0.1})])
def test_infinity_in_a_config_is_read_as_linf_with_a_deprecation_warning(caplog, method, extra):
    data = {"adversarial": {"enabled": True, "method": method, "norm": "infinity", **extra}}
    with caplog.at_level(logging.WARNING):
        job = config_lib.parse(TrainJob, data, source="'x.yaml'")
    assert job.adversarial.norm == "linf"
    [message] = _deprecations(caplog)
    assert "'x.yaml'" in message and "adversarial.norm" in message and "'infinity'" in message
    assert "'linf'" in message


def test_infinity_given_in_python_is_read_as_linf_with_a_deprecation_warning(caplog):
    with caplog.at_level(logging.WARNING):
        options = AdversarialConfig(enabled=True, step_size=0.1, norm="infinity")
    assert options.norm == "linf"
    [message] = _deprecations(caplog)
    assert "adversarial.norm" in message and "infinity" in message and "linf" in message


def test_linf_is_the_nsl_default_and_draws_no_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert AdversarialConfig(enabled=True).norm == "linf"
        assert config_lib.parse(TrainJob, {"adversarial": {"enabled": True, "norm": "linf"}}).adversarial.norm == "linf"
    assert not _deprecations(caplog)


def test_an_unknown_norm_lists_only_the_current_spellings():
    with pytest.raises(ConfigError, match=r"key 'adversarial\.norm' has value 'lnf'; expected one of 'linf', 'l2', "
                                          r"'l1' or null") as err:
        config_lib.parse(TrainJob, {"adversarial": {"enabled": True, "norm": "lnf"}})
    assert "infinity" not in str(err.value)


def test_l1_stays_an_nsl_only_norm():
    assert AdversarialConfig(enabled=True, norm="l1").norm == "l1"
    with pytest.raises(ConfigError, match="adversarial.norm = l1 is not a norm of method pgd: expected linf or l2"):
        config_lib.parse(TrainJob, {"adversarial": {"enabled": True, "method": "pgd", "epsilon": 0.1, "norm": "l1"}})
