"""Stops a run that has stopped making progress, instead of letting it hang.

A replica or worker that never joins an all-reduce (a lost worker, a device
that is not there, a deadlocked collective) blocks the others inside a
TensorFlow kernel, where no Python exception can reach them. `Watchdog` runs
a thread that notes every sign of progress (a finished batch, an epoch, the
steps before the first batch) and, when none has come for ``timeout``
seconds, says so on stderr and ends the process with `STALLED_EXIT_CODE`. A
run stopped that way loses nothing that it had finished: rerun, it resumes
from its last completed epoch (Keras ``BackupAndRestore``).
"""

import logging
import os
import sys
import threading
import time
from typing import Callable, Optional

import tf_keras as keras

from robustkit.errors import STALLED_EXIT_CODE

log = logging.getLogger(__name__)


class Watchdog:
    """A thread that ends the process when ``beat`` has not been called for ``timeout`` seconds.

    Use it as a context manager around the work it guards, and pass `beats()`
    to ``Model.fit`` so that every batch counts as progress:

        with Watchdog(900, "training"):
            model = build()
            model.fit(..., callbacks=[beats()])

    Args:
      timeout: seconds without progress that end the process; None disables it.
      what: what is guarded, for the message.
      exit_fn: called with the exit code on a stall (tests replace it).
    """

    def __init__(self, timeout: Optional[float], what: str = "the run",
                 exit_fn: Callable[[int], None] = os._exit):
        self.timeout = timeout
        self.what = what
        self._exit = exit_fn
        self._last = time.monotonic()
        self._where = "starting"
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.fired = False

    def beat(self, where: str) -> None:
        """Notes progress; ``where`` says what was last reached, for the message."""
        self._last = time.monotonic()
        self._where = where

    def __enter__(self) -> "Watchdog":
        global _active
        _active = self
        if self.timeout is not None:
            self.beat("starting")
            self._thread = threading.Thread(target=self._watch, name="robustkit-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        global _active
        _active = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        interval = min(max(self.timeout / 20.0, 0.05), 15.0)
        while not self._stop.wait(interval):
            idle = time.monotonic() - self._last
            if idle > self.timeout:
                self.fired = True
                message = (
                    f"error: {self.what} made no progress for {idle:.1f} s (distribute.stall_timeout = "
                    f"{self.timeout:g}); the last step reached was {self._where}. A replica or worker that never "
                    "joined an all-reduce is the usual cause: a worker that died or was never started, or a device "
                    "that is not there. Nothing finished is lost: run the same command again to resume from the "
                    "last completed epoch."
                )
                log.error(message)
                print(message, file=sys.stderr, flush=True)
                self._exit(STALLED_EXIT_CODE)
                return


_active: Optional[Watchdog] = None


def beat(where: str) -> None:
    """Notes progress with the watchdog now guarding this process, if any."""
    if _active is not None:
        _active.beat(where)


def beats() -> keras.callbacks.Callback:
    """A Keras callback that notes every batch and epoch of fit, evaluate and predict as progress."""
    return _Beats()


class _Beats(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        beat("the start of training (tracing the first step)")

    def on_epoch_begin(self, epoch, logs=None):
        beat(f"the start of epoch {epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        beat(f"the end of epoch {epoch + 1}")

    def on_train_batch_end(self, batch, logs=None):
        beat(f"training batch {batch + 1}")

    def on_test_begin(self, logs=None):
        beat("the start of validation")

    def on_test_batch_end(self, batch, logs=None):
        beat(f"validation batch {batch + 1}")

    def on_predict_batch_end(self, batch, logs=None):
        beat(f"prediction batch {batch + 1}")
