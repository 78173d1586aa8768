"""What every entry point shares: ``--log-level`` (and ``$ROBUSTKIT_LOG_LEVEL``)."""

import logging

import pytest

from robustkit import cli


@pytest.fixture
def root_level():
    root = logging.getLogger()
    saved = root.level
    yield
    root.setLevel(saved)


def _parser():
    return cli.entry_parser("prog", "what it does", "Title.\n\n    prog --config FILE\n")


def _effective_level(argv):
    seen = []
    assert cli.main(_parser(), lambda args: seen.append(logging.getLogger("robustkit.any").getEffectiveLevel()) or 0,
                    argv) == 0
    return seen[0]


def test_log_level_flag_sets_the_level_in_any_case(root_level):
    assert _effective_level(["--log-level", "debug"]) == logging.DEBUG
    assert logging.getLogger("robustkit.any").isEnabledFor(logging.DEBUG)
    assert _effective_level(["--log-level", "ERROR"]) == logging.ERROR
    assert not logging.getLogger("robustkit.any").isEnabledFor(logging.WARNING)


def test_the_environment_variable_sets_the_default(root_level, monkeypatch):
    monkeypatch.setenv("ROBUSTKIT_LOG_LEVEL", "warning")
    assert _effective_level([]) == logging.WARNING
    assert _effective_level(["--log-level", "INFO"]) == logging.INFO, "the flag wins over the variable"
    monkeypatch.delenv("ROBUSTKIT_LOG_LEVEL")
    assert _effective_level([]) == logging.INFO


def test_an_unknown_level_is_a_usage_error(root_level, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_parser(), lambda args: 0, ["--log-level", "LOUD"])
    assert exit_info.value.code == 2
    assert "'LOUD' is not a logging level; choose one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in \
        capsys.readouterr().err
