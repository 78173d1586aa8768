"""Progress of a tool's long steps: a live bar on a terminal, a line now and then otherwise.

Every long step of a tool (an attack at one epsilon, an explanation method, a
tile pass, a batch of seeds, a corruption) is one `Stage`: ``total`` units
(examples, tiles, seeds) done in ``advance`` calls, with optional running
figures (``{"accuracy": 0.41}``). On a terminal (stderr is a TTY) the stage is one
line redrawn in place with a bar, the running figures and the time left; when
the stage ends the line is replaced by the stage's summary. Otherwise (logs,
CI) a stage writes a log line when it runs longer than ``interval`` seconds
since its last line, and one line when it ends, so a log shows where a long run
is without a line per batch.

Keras's ``Progbar`` draws a bar too, but on stdout (where the tools print
their results), and off a terminal it writes either a line per update or
nothing until the end; these stages need neither.
"""

import logging
import os
import sys
import time
from typing import Callable, Dict, Optional, TextIO

from robustkit import quiet

log = logging.getLogger("robustkit")

BAR_WIDTH = 24
REDRAW_SECONDS = 0.2
LINE_SECONDS = 30.0


def _duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _figures(figures) -> str:
    return "".join(f", {k} {v:.4f}" if isinstance(v, float) else f", {k} {v}" for k, v in figures.items())


class Stage:
    """One long step with a known amount of work; use as a context manager or call `close`.

    Args:
      name: what the step is, e.g. ``pgd epsilon 0.1``.
      total: the units of work in the step.
      unit: what one unit is (``examples``, ``tiles``, ``seeds``).
      stream: where a terminal bar is drawn (default: stderr).
      interactive: draw a bar (default: whether ``stream`` is a terminal and
        ``ROBUSTKIT_PROGRESS`` is not ``lines``).
      interval: off a terminal, the seconds between two lines of a running stage.
      clock: a monotonic clock (for tests).
    """

    def __init__(self, name: str, total: int, unit: str = "examples", stream: Optional[TextIO] = None,
                 interactive: Optional[bool] = None, interval: float = LINE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.total, self.unit = name, max(int(total), 0), unit
        self.stream = stream or sys.stderr
        if interactive is None:
            interactive = os.environ.get("ROBUSTKIT_PROGRESS") != "lines" and _isatty(self.stream)
        self.interactive = interactive
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.figures = {}
        self.started = clock()
        self._last_draw = -float("inf")
        self._last_line = self.started
        self._closed = False

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(failed=kind is not None)

    def advance(self, units: int, figures: Optional[Dict[str, object]] = None) -> None:
        """Records ``units`` more done and the latest running ``figures`` (name -> value)."""
        self.done = min(self.done + int(units), self.total) if self.total else self.done + int(units)
        self.figures.update(figures or {})
        now = self.clock()
        if self.interactive:
            if now - self._last_draw >= REDRAW_SECONDS or self.done >= self.total:
                self._draw(now)
        elif now - self._last_line >= self.interval and self.done < self.total:
            self._last_line = now
            log.info("%s", self.status(now))

    def eta(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds left at the pace so far (None before the first unit)."""
        if not self.done or not self.total:
            return None
        elapsed = (self.clock() if now is None else now) - self.started
        return elapsed * (self.total - self.done) / self.done

    def status(self, now: Optional[float] = None) -> str:
        """``name: done/total unit, figures, time left`` as one line."""
        eta = self.eta(now)
        left = "" if eta is None else f", {_duration(eta)} left"
        return f"{self.name}: {self.done}/{self.total} {self.unit}{_figures(self.figures)}{left}"

    def _draw(self, now: float) -> None:
        self._last_draw = now
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r\x1b[2K[{bar}] {self.status(now)}")
        self.stream.flush()

    def close(self, summary: Optional[str] = None, failed: bool = False) -> None:
        """Ends the stage; its last line is ``summary`` (default: the status with the time taken)."""
        if self._closed:
            return
        self._closed = True
        if self.interactive:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        if failed:
            return
        seconds = self.clock() - self.started
        log.info("%s", summary or f"{self.name}: {self.done}/{self.total} {self.unit}{_figures(self.figures)} "
                                  f"({seconds:.1f}s)")


def _isatty(stream) -> bool:
    if stream is sys.stderr:
        return quiet.stderr_is_terminal()
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
