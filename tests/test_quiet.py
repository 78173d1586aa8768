"""A tool's output carries robustkit's lines, Keras's epochs and real warnings, not TensorFlow's start-up."""

import logging
import os
import re
import subprocess
import sys
import textwrap

from robustkit import quiet
from tests import helpers

# Lines TensorFlow 2.21 writes at start-up on a machine without a GPU (seen in this project's logs).
START_UP = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1795975635.018704   18923 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    b"GPU will not be used.",
    b"E0000 00:00:1795975640.715675   18923 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    b"Failed call to cuInit: UNKNOWN ERROR (303)",
    b"I0000 00:00:1795975640.1   18923 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use "
    b"available CPU instructions in performance-critical operations.",
    b"I0000 00:00:1795975640.2   18923 port.cc:153] oneDNN custom operations are on. You may see slightly different "
    b"numerical results due to floating-point round-off errors from different computation orders.",
]
KEPT = [
    b"E0000 00:00:1795975640.715675   18923 cuda_platform.cc:52] out of memory while allocating 1.2GiB",
    b"W0000 00:00:1795975640.715675   18923 op_level_cost_estimator.cc:699] Error in PredictCost() for the op",
    b"E0000 00:00:1.2  11 loader.cc:9] failed call to cuInit somewhere else",
    b"Traceback (most recent call last):",
    b"18:08:10 INFO robustkit.distribute: strategy auto with 1 replica(s)",
    b"625/625 - 47s - loss: 0.9651 - accuracy: 0.6579",
]
# What the subprocess check looks for: any of TensorFlow's start-up sources or absl's INFO chatter.
NOISE = re.compile(r"absl::InitializeLog|cudart_stub|cuda_platform|cuInit|cpu_feature_guard|oneDNN|"
                   r"Sharding callback|Cannot perturb non-Tensor|compiled metrics have yet to be built|"
                   r"contains input name\(s\)|Assets written to")


def test_start_up_lines_are_recognised_and_nothing_else():
    assert all(quiet.is_start_up_noise(line) for line in START_UP)
    assert not any(quiet.is_start_up_noise(line) for line in KEPT)


def _python(code: str, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=helpers.ROOT)


def test_entry_point_logging_hides_start_up_lines_and_debug_shows_them():
    code = """
        import logging, sys
        from robustkit import cli
        cli.setup_logging(sys.argv[1] if len(sys.argv) > 1 else "{level}")
        import tensorflow as tf
        tf.constant(1.0) + 1.0
        print("real error line", file=sys.stderr)
        logging.getLogger("robustkit").info("robustkit line")
        logging.getLogger("absl").info("Sharding callback duration: 3 microseconds")
        """
    quiet_run = _python(code.format(level="INFO"))
    debug_run = _python(code.format(level="DEBUG"))
    assert quiet_run.returncode == 0 and debug_run.returncode == 0, quiet_run.stderr + debug_run.stderr
    assert NOISE.search(debug_run.stderr), "TensorFlow printed no start-up lines at DEBUG; the check below is empty"
    assert not NOISE.search(quiet_run.stderr), quiet_run.stderr
    for run in (quiet_run, debug_run):
        assert "real error line" in run.stderr and "robustkit line" in run.stderr


def test_expected_warnings_are_dropped_and_others_kept(caplog):
    absl, tensorflow = logging.getLogger("absl"), logging.getLogger("tensorflow")
    levels = absl.level, tensorflow.level
    quiet.quiet_loggers(logging.INFO)
    try:
        with caplog.at_level(logging.INFO):
            absl.warning("Cannot perturb non-Tensor input: %s", "dict_keys(['label'])")
            tensorflow.warning("Compiled the loaded model, but the compiled metrics have yet to be built.")
            absl.info("Sharding callback duration: %s microseconds", 3)
            tensorflow.info("Assets written to: /tmp/x/.1.tmp-abc/assets")
            absl.warning("a warning that matters")
        assert [r.getMessage() for r in caplog.records] == ["a warning that matters"]
    finally:
        quiet.quiet_loggers(logging.DEBUG)
        absl.setLevel(levels[0])
        tensorflow.setLevel(levels[1])


def test_a_training_run_prints_no_tensorflow_start_up_lines(tmp_path):
    data = helpers.write_learnable_idx(tmp_path / "data", train=64, test=32)
    config = helpers.train_config(tmp_path, data, train={"epochs": 1},
                                  adversarial={"enabled": True, "multiplier": 0.2, "step_size": 0.05})
    env = {**os.environ}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run([sys.executable, "-m", "robustkit.train", "--config", config], capture_output=True,
                          text=True, env=env, timeout=600, cwd=helpers.ROOT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert not NOISE.search(output), output
    assert "INFO robustkit" in proc.stderr and "exported:" in proc.stdout


def test_unfinished_lines_that_cannot_be_noise_are_not_held_back():
    assert quiet._may_become_noise(b"WARNING: All log")
    assert quiet._may_become_noise(b"I0000 00:00:17959")
    assert quiet._may_become_noise(b"E00")
    assert not quiet._may_become_noise(b"\r\x1b[2K[####....] pgd epsilon 0.1: 50/500 examples")
    assert not quiet._may_become_noise(b"18:54:47 INFO robustkit: pgd")
    assert not quiet._may_become_noise(b"Epoch 1/3 ")


def test_a_bar_redrawn_in_place_reaches_the_real_stderr_before_its_line_ends():
    import select

    code = textwrap.dedent("""
        import sys
        from robustkit import cli
        cli.setup_logging("INFO")
        sys.stderr.write("\\r[##....] 2/8 examples")
        sys.stderr.flush()
        sys.stdin.readline()  # held open until the parent has seen the bar
        """)
    env = {**os.environ}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=helpers.ROOT)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "the unfinished line never arrived"
        assert os.read(proc.stderr.fileno(), 4096) == b"\r[##....] 2/8 examples"
    finally:
        proc.communicate(b"\n", timeout=60)
