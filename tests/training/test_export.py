"""SavedModel exports: signatures checked in a process that imports only TensorFlow."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from robustkit.models import build_model
from robustkit.models.mobilenetv2 import MobileNetV2Config, WeightsNotFoundError
from robustkit.models.small_cnn import SmallCNNConfig
from robustkit.training.export import export_model

_CHECK = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    assert "tf_keras" not in sys.modules and "robustkit" not in sys.modules
    path, data = sys.argv[1], np.load(sys.argv[2], allow_pickle=True)
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "serve_float", "serve_encoded"}, set(loaded.signatures)
    calls = {
        "serving_default": dict(image=tf.constant(data["uint8"])),
        "serve_float": dict(image=tf.constant(data["float"])),
        "serve_encoded": dict(image_bytes=tf.constant(list(data["encoded"]))),
    }
    for name, kwargs in calls.items():
        out = loaded.signatures[name](**kwargs)
        assert out["probabilities"].dtype == tf.float32 and out["class_id"].dtype == tf.int64
        np.testing.assert_allclose(out["logits"].numpy(), data["logits"], atol=1e-4, err_msg=name)
        np.testing.assert_allclose(out["probabilities"].numpy(), data["probs"], atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(out["class_id"].numpy(), data["logits"].argmax(-1))
    with open(path + "/assets/labels.txt") as f:
        print(f.read().split())
    """
)


@pytest.mark.parametrize(
    "options, channels", [(SmallCNNConfig(), 1), (MobileNetV2Config(input_size=32, alpha=0.35), 3)],
    ids=["small_cnn", "mobilenetv2"],
)
def test_signatures_match_the_keras_model(tmp_path, options, channels):
    model = build_model(options, num_classes=4, channels=channels)
    size = options.input_size
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, size, size, channels), dtype=np.uint8)
    floats = pixels.astype("float32") / 255.0
    # PNG is lossless: the decoded pixels are the uint8 ones.
    encoded = np.array([tf.io.encode_png(p).numpy() for p in pixels], dtype=object)
    logits = model(floats, training=False).numpy()
    probs = tf.nn.softmax(logits).numpy()
    data = tmp_path / "data.npz"
    np.savez(data, uint8=pixels, float=floats, encoded=encoded, logits=logits, probs=probs)

    path = export_model(model, str(tmp_path / "exports" / "m"), ["a", "b", "c", "d"], tf.distribute.get_strategy(),
                        class_ids=["n1", "n2", "n3", "n4"])
    assert path == str(tmp_path / "exports" / "m" / "1")
    assert open(os.path.join(path, "assets", "class_ids.txt")).read() == "n1\nn2\nn3\nn4\n"
    env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = tmp_path / "check.py"
    script.write_text(_CHECK)
    proc = subprocess.run(
        [sys.executable, str(script), path, str(data)], capture_output=True, text=True, env=env, timeout=300,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "['a', 'b', 'c', 'd']"


def test_encoded_images_of_another_size_are_resized(tmp_path):
    model = build_model(SmallCNNConfig(), num_classes=3, channels=1)
    path = export_model(model, str(tmp_path / "m"), ["a", "b", "c"], tf.distribute.get_strategy())
    loaded = tf.saved_model.load(path)
    # A non-constant 56x40 image: a diagonal ramp with a bright block and noise. Cropping or
    # padding it to 28x28 instead of resizing gives other pixels, so other logits.
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:56, 0:40]
    pixels = (rows * 3 + cols * 2 + rng.integers(0, 40, size=(56, 40))) % 256
    pixels[5:20, 25:38] = 255
    pixels = pixels.astype(np.uint8)[..., None]
    png = tf.io.encode_png(pixels).numpy()  # Lossless: the graph decodes exactly these pixels.
    out = loaded.signatures["serve_encoded"](image_bytes=tf.constant([png, png]))
    resized = tf.image.resize(pixels[None].astype("float32") / 255.0, [28, 28], method="bilinear", antialias=True)
    expected = model(tf.clip_by_value(resized, 0.0, 1.0), training=False).numpy()
    np.testing.assert_allclose(out["logits"].numpy(), np.repeat(expected, 2, axis=0), atol=1e-5)
    cropped = tf.image.resize_with_crop_or_pad(pixels[None].astype("float32") / 255.0, 28, 28)
    other = model(cropped, training=False).numpy()
    assert np.abs(other - expected).max() > 1e-3, "the image must tell resizing from cropping"


def test_imagenet_weights_offline_error_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        build_model(MobileNetV2Config(input_size=96, alpha=0.35, weights="imagenet"), num_classes=3, channels=3)
    message = str(err.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5" in message
    assert str(tmp_path / "models") in message
    with pytest.raises(WeightsNotFoundError, match="no such file"):
        build_model(MobileNetV2Config(weights=str(tmp_path / "w.h5")), num_classes=3, channels=3)


@pytest.mark.parametrize("precision, shift", [("float32", 0.05), ("mixed_bfloat16", 1.0)])
def test_the_export_check_passes_an_exact_export_and_refuses_a_wrong_one(tmp_path, precision, shift):
    import tf_keras as keras

    from robustkit.training import export

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = build_model(MobileNetV2Config(input_size=32, alpha=0.35, dropout=0.0), num_classes=4, channels=1)
        path = str(tmp_path / "export")
        model.save(path, save_format="tf", signatures=export.signatures(model))
        # bfloat16 keeps 8 significant bits: its allowance is 8 of its epsilons, float32's stays 1e-3.
        assert export.relative_tolerance(model) == {"float32": 1e-3, "mixed_bfloat16": 2.0 ** -4}[precision]
        assert export.check_export(path, model) <= export.relative_tolerance(model) * 100
        bias = model.get_layer("logits").bias
        bias.assign(bias + shift)  # The saved model no longer computes what this one does.
        with pytest.raises(export.ExportMismatchError, match="was not published"):
            export.check_export(path, model)
    finally:
        keras.mixed_precision.set_global_policy(previous)
