"""The TensorFlow set-up module, checked in fresh interpreters."""

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )


def test_import_has_no_side_effect_beyond_setup():
    proc = _run(
        """
        import os, sys
        import robustkit
        assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
        assert "tensorflow" not in sys.modules, "importing robustkit must not import TensorFlow"
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_tf_keras_and_nsl_after_import():
    proc = _run(
        """
        import robustkit
        import tensorflow as tf
        import tf_keras
        import neural_structured_learning as nsl
        assert tf.keras.Model is tf_keras.Model
        assert hasattr(nsl.keras, "AdversarialRegularization")
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_tensorflow_imported_first_but_keras_untouched_is_fine():
    proc = _run(
        """
        import tensorflow as tf
        import robustkit
        import tf_keras
        assert tf.keras.Model is tf_keras.Model
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr


def test_keras3_already_active_is_a_clear_error():
    proc = _run(
        """
        import tensorflow as tf
        tf.keras.layers  # resolves tf.keras to Keras 3
        try:
            import robustkit
        except Exception as err:
            print(type(err).__name__, err)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("KerasVersionError")
    assert "TF_USE_LEGACY_KERAS=1" in proc.stdout
