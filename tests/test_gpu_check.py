"""scripts/gpu_check.sh refuses, naming the missing GPU, rather than measure the CPU in its place."""

import os
import subprocess

import pytest
import tensorflow as tf

from tests import helpers

SCRIPT = os.path.join(helpers.ROOT, "scripts", "gpu_check.sh")


def _run(tmp_path, **env):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([SCRIPT, "--out", str(out)], capture_output=True, text=True, timeout=300,
                          cwd=helpers.ROOT, env={**os.environ, "PYTHON": os.path.abspath(
                              os.path.join(helpers.ROOT, ".venv", "bin", "python")), **env})
    return proc, out


def test_the_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)


def test_hidden_gpus_are_refused_by_name(tmp_path):
    proc, out = _run(tmp_path, CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no GPU visible" in proc.stderr and "CUDA_VISIBLE_DEVICES" in proc.stderr
    assert not out.exists()


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                    reason="this machine has a GPU, so the check would run instead of refusing")
def test_a_machine_without_gpu_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run([SCRIPT, "--out", str(tmp_path / "g.json")], capture_output=True, text=True, timeout=300,
                          cwd=helpers.ROOT, env={**env, "PYTHON": os.path.join(helpers.ROOT, ".venv", "bin",
                                                                               "python")})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "TensorFlow lists no GPU device" in proc.stderr
    assert not (tmp_path / "g.json").exists()
