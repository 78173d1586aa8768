"""Progress of long steps: a bar on a terminal, a line per stage (and every interval) otherwise."""

import io
import logging

import pytest

from robustkit import progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_off_a_terminal_a_stage_logs_every_interval_and_once_at_the_end(caplog):
    clock, stream = Clock(), io.StringIO()
    with caplog.at_level(logging.INFO, logger="robustkit"):
        with progress.Stage("pgd epsilon 0.1", 100, stream=stream, interactive=False, interval=30, clock=clock) as s:
            for _ in range(10):
                clock.now += 10.0
                s.advance(10, {"base": 0.5})
    lines = [r.getMessage() for r in caplog.records]
    # 10 s per 10 examples: lines at 30 s and 60 s and 90 s while it runs, then the summary.
    assert lines[:3] == [f"pgd epsilon 0.1: {n}/100 examples, base 0.5000, {left} left"
                         for n, left in ((30, "1:10"), (60, "0:40"), (90, "0:10"))]
    assert lines[3] == "pgd epsilon 0.1: 100/100 examples, base 0.5000 (100.0s)" and len(lines) == 4
    assert stream.getvalue() == ""


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_cleared(caplog):
    clock, stream = Clock(), io.StringIO()
    with caplog.at_level(logging.INFO, logger="robustkit"):
        stage = progress.Stage("tiles", 4, unit="tile pairs", stream=stream, interactive=True, clock=clock)
        clock.now += 1.0
        stage.advance(1)
        clock.now += 1.0
        stage.advance(1)
        stage.close("tiles: done")
    drawn = stream.getvalue().split("\r\x1b[2K")
    assert drawn[1] == "[######..................] tiles: 1/4 tile pairs, 0:03 left"
    assert drawn[2] == "[############............] tiles: 2/4 tile pairs, 0:02 left"
    assert drawn[-1] == ""  # cleared before the summary line
    assert [r.getMessage() for r in caplog.records] == ["tiles: done"]


def test_a_failed_stage_clears_its_bar_and_logs_nothing(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="robustkit"):
        with pytest.raises(KeyError):
            with progress.Stage("x", 3, stream=stream, interactive=True) as stage:
                stage.advance(1)
                raise KeyError("boom")
    assert stream.getvalue().endswith("\r\x1b[2K") and not caplog.records


def test_lines_mode_is_forced_by_the_environment(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress.Stage("x", 1, stream=Tty()).interactive
    monkeypatch.setenv("ROBUSTKIT_PROGRESS", "lines")
    assert not progress.Stage("x", 1, stream=Tty()).interactive
