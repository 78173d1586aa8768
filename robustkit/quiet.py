"""Keeps a tool's output to what a user needs: robustkit's lines, Keras's epochs and real warnings.

TensorFlow's start-up writes lines that say nothing to a user of robustkit:
abseil's notice that logs go to stderr before ``absl::InitializeLog()``, the
CUDA probes of a machine without a GPU (``cudart_stub.cc``,
``cuda_platform.cc``'s failed ``cuInit``, the cuDNN/cuFFT/cuBLAS factory
registrations), ``cpu_feature_guard.cc`` and the oneDNN notice. The C++ ones are
written before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` (TensorFlow 2.21 logs
them through abseil before abseil is initialised), so no setting hides them:
`filter_stderr` puts a filter on file descriptor 2 that drops exactly those
lines and passes every other byte through.

On the Python side, `quiet_loggers` lowers absl's and TensorFlow's INFO chatter
(checkpoint "Sharding callback duration", SavedModel input renames, "Assets
written to" a temporary export path) and drops two
warnings that are expected in every run: NSL's note that it cannot perturb the
integer label feature (the label is not an input to perturb), and tf-keras's
note that a reloaded model's compiled metrics are not built yet (the export
check only predicts).

Both are for entry points (`robustkit.cli.setup_logging` calls them); importing
robustkit as a library changes nothing. ``--log-level DEBUG`` shows everything.
"""

import atexit
import logging
import os
import re
import sys
import threading
from typing import Optional

# C++ log lines: severity letter, date, time, thread, file:line].
_CPP_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ ([\w.]+):\d+\] ")
# Sources of start-up lines that carry nothing for a user, at any severity.
_START_UP_SOURCES = frozenset({
    b"cudart_stub.cc", b"cuda_platform.cc", b"cuda_executor.cc", b"cuda_diagnostics.cc", b"cuda_dnn.cc",
    b"cuda_fft.cc", b"cuda_blas.cc", b"cpu_feature_guard.cc", b"port.cc",
})
_CPP_HEAD = re.compile(rb"^[IWEF]\d{4} ")
_ABSL_PRE_INIT = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_ONE_DNN = b"oneDNN custom operations are on"


def is_start_up_noise(line: bytes) -> bool:
    """Whether one line of stderr is TensorFlow start-up output that `filter_stderr` drops."""
    text = line.rstrip(b"\r\n")
    if text == _ABSL_PRE_INIT:
        return True
    match = _CPP_LINE.match(text)
    if match is None:
        return False
    severity, source = match.groups()
    if source in _START_UP_SOURCES and severity in (b"I", b"W"):
        return True
    # A GPU-less machine: the failed driver probe and the duplicate factory registrations.
    return source in _START_UP_SOURCES and (b"cuInit" in text or b"Unable to register" in text
                                            or _ONE_DNN in text)


def _may_become_noise(partial: bytes) -> bool:
    """Whether an unfinished line could still turn out to be start-up noise (so it must wait for its end)."""
    if _ABSL_PRE_INIT.startswith(partial[:len(_ABSL_PRE_INIT)]):
        return True
    return partial[:1] in (b"I", b"W", b"E", b"F") and (len(partial) < 6 or bool(_CPP_HEAD.match(partial)))


class _StderrFilter:
    """File descriptor 2 through a pipe; a thread copies every line but the noise to the real stderr."""

    def __init__(self):
        self.terminal = os.isatty(2)
        self.saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.reader = os.fdopen(read_end, "rb", buffering=0)
        self.thread = threading.Thread(target=self._copy, name="robustkit-stderr-filter", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def _copy(self) -> None:
        pending = b""
        while True:
            chunk = self.reader.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self._write(b"".join(line + b"\n" for line in lines if not is_start_up_noise(line)))
            if pending and not _may_become_noise(pending):  # A progress bar redrawn in place: show it now.
                self._write(pending)
                pending = b""
        if not is_start_up_noise(pending):
            self._write(pending)

    def _write(self, data: bytes) -> None:
        try:
            if data:
                os.write(self.saved, data)
        except OSError:  # The real stderr is gone; keep draining the pipe so that writers never block.
            pass

    def close(self) -> None:
        """Restores the real stderr and waits until every line written so far has been copied."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.saved, 2)  # The pipe's last writer is gone: the thread sees the end.
        self.thread.join(timeout=5.0)


_filter: Optional[_StderrFilter] = None


def filter_stderr() -> None:
    """Drops TensorFlow's start-up lines from this process's stderr.

    Once per process, and only where it can matter and cannot surprise: before
    TensorFlow is imported (afterwards its start-up lines are written already),
    and while ``sys.stderr`` is the process's own (not replaced by a caller
    that captures it).
    """
    global _filter
    if _filter is None and "tensorflow" not in sys.modules and sys.stderr is sys.__stderr__:
        try:
            _filter = _StderrFilter()
        except OSError:  # No file descriptor 2 (a detached service): nothing to filter.
            _filter = None


def stderr_is_terminal() -> bool:
    """Whether this process's stderr is a terminal (`filter_stderr` puts a pipe in front of it)."""
    if _filter is not None:
        return _filter.terminal
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _ExpectedWarnings(logging.Filter):
    """Drops the warnings every run gives and nobody can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Cannot perturb non-Tensor input"):
            return False
        return "the compiled metrics have yet to be built" not in message


_EXPECTED = _ExpectedWarnings()


def quiet_loggers(level: int) -> None:
    """At INFO and above: absl's INFO lines hidden and the expected warnings dropped; DEBUG: everything."""
    absl = logging.getLogger("absl")
    tensorflow = logging.getLogger("tensorflow")
    if level <= logging.DEBUG:
        for logger in (absl, tensorflow):
            logger.setLevel(logging.NOTSET)
            logger.removeFilter(_EXPECTED)
        return
    for logger in (absl, tensorflow):
        logger.setLevel(max(level, logging.WARNING))
        logger.addFilter(_EXPECTED)
