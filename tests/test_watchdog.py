"""The watchdog that ends a stalled run, and the device check that prevents the commonest stall."""

import time

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import distribute, watchdog
from robustkit.distribute import DistributeError
from robustkit.sections import DistributeConfig


class _Exit(Exception):
    pass


@pytest.fixture(scope="module")
def fit():
    """``fit(callbacks, batches)`` on a model already traced, so that a fit's only pauses are the tests' own."""
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def run(callbacks=(), batches=4):
        model.fit(np.zeros((batches * 2, 3), np.float32), np.zeros(batches * 2, np.int64), batch_size=2, epochs=1,
                  verbose=0, callbacks=list(callbacks))

    run()
    return run


class _Sleep(keras.callbacks.Callback):
    def __init__(self, at_batch, seconds):
        super().__init__()
        self.at_batch, self.seconds = at_batch, seconds

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.at_batch:
            time.sleep(self.seconds)


def test_a_stalled_fit_ends_the_process_with_the_stall_code_and_says_where(fit, capsys):
    codes = []
    with watchdog.Watchdog(0.4, "training", exit_fn=codes.append) as dog:
        fit([watchdog.beats(), _Sleep(at_batch=2, seconds=1.2)])
    assert dog.fired and codes == [watchdog.STALLED_EXIT_CODE]
    err = capsys.readouterr().err
    assert "training made no progress for" in err and "distribute.stall_timeout = 0.4" in err
    assert "the last step reached was training batch 2" in err  # Batches 1 and 2 finished, 3 stalled.
    assert "resume from the last completed epoch" in err


def test_steady_progress_never_fires_even_when_the_whole_fit_takes_longer_than_the_timeout(fit):
    codes = []
    # 12 x 0.25 s = 3 s in all, never 2 s without a beat (the margin absorbs a loaded machine's slow fits).
    with watchdog.Watchdog(2.0, "training", exit_fn=codes.append) as dog:
        for batch in range(12):
            fit([watchdog.beats(), _Sleep(at_batch=0, seconds=0.25)], batches=1)
    assert not dog.fired and codes == []


def test_beats_outside_a_watchdog_and_a_disabled_watchdog_do_nothing():
    watchdog.beat("nothing guards this")
    with watchdog.Watchdog(None) as dog:
        assert watchdog._active is dog
        time.sleep(0.1)
    assert watchdog._active is None and not dog.fired


def test_mirrored_over_a_gpu_that_is_not_there_is_refused_naming_it():
    missing = len(tf.config.list_physical_devices("GPU"))
    with pytest.raises(DistributeError, match=f"names /gpu:{missing}, but this process sees {missing} GPU"):
        distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=[f"/gpu:{missing}"]))


def test_mirrored_over_a_misspelt_device_is_refused():
    with pytest.raises(DistributeError, match="'/cpu0' is not a device name"):
        distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu0"]))


def test_logical_cpus_cannot_be_added_once_tensorflow_runs():
    # The test session made two logical CPUs (tests/conftest.py) and has started TensorFlow.
    with pytest.raises(DistributeError, match="names /cpu:3, but this process has 2 CPU device"):
        distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:3"]))


def test_a_stall_timeout_must_be_positive():
    with pytest.raises(ValueError, match="distribute.stall_timeout = 0"):
        DistributeConfig(stall_timeout=0)


def test_a_lost_peer_ends_the_entry_point_with_the_stall_code_and_one_paragraph(capsys):
    from robustkit import cli

    def lost():
        raise tf.errors.UnavailableError(None, None, "The following tasks are unhealthy (stopped sending "
                                         "heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed.")

    assert cli.run(lost) == watchdog.STALLED_EXIT_CODE
    err = capsys.readouterr().err
    assert err.startswith("error: the run stopped because another worker or replica stopped answering")
    assert "UnavailableError: The following tasks are unhealthy (stopped sending heartbeats):" in err
    assert "resume from the last completed epoch" in err and err.count("\n") == 1

    def other():
        raise tf.errors.InvalidArgumentError(None, None, "a bug, not a lost peer")

    with pytest.raises(tf.errors.InvalidArgumentError):
        cli.run(other)
