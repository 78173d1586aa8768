"""Exports: loaded in a process that imports only TensorFlow, their signatures match the Keras models."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from robustkit.generative import export, perturbation
from robustkit.generative.config import MODELS, ConvVAEConfig, FcCVAEConfig

_CHECK = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    path, data = sys.argv[1], np.load(sys.argv[2])
    loaded = tf.saved_model.load(path)
    assert not {"tf_keras", "robustkit", "tensorflow_probability"} & set(sys.modules), "TensorFlow alone"
    x, seed = tf.constant(data["x"]), tf.constant([3, 4], tf.int64)
    if "prior" in loaded.signatures:
        assert set(loaded.signatures) == {"serving_default", "perturb", "prior", "generator", "recognition",
                                          "sample"}, set(loaded.signatures)
        prior = loaded.signatures["prior"](image=x)
        np.testing.assert_allclose(prior["mean"], data["prior_mean"], atol=1e-5)
        np.testing.assert_allclose(prior["stddev"], data["prior_std"], rtol=1e-5)
        out = loaded.signatures["generator"](image=x, z=tf.constant(data["z"]))["image"]
        np.testing.assert_allclose(out, data["generated"], atol=1e-5)
        rec = loaded.signatures["recognition"](image=x, perturbed=tf.constant(data["y"]))
        np.testing.assert_allclose(rec["mean"], data["posterior_mean"], atol=1e-5)
        out = loaded.signatures["serving_default"](image=x, code=tf.constant(data["code"]))["image"]
        np.testing.assert_allclose(out, data["perturbed"], atol=1e-5)
        drawn = loaded.signatures["sample"](image=x, radius=tf.constant(0.5), seed=seed)
        assert np.linalg.norm(drawn["code"].numpy(), axis=-1).max() <= 0.5 + 1e-5
        assert drawn["image"].shape == x.shape
    else:
        assert set(loaded.signatures) == {"serving_default", "generate", "encode", "decode", "sample"}
        enc = loaded.signatures["encode"](image=x)
        np.testing.assert_allclose(enc["mean"], data["mean"], atol=1e-5)
        np.testing.assert_allclose(loaded.signatures["decode"](z=tf.constant(data["z"]))["image"], data["decoded"],
                                   atol=1e-5)
        np.testing.assert_allclose(loaded.signatures["generate"](image=x, seed=seed)["image"], data["generated"],
                                   atol=1e-5)
        assert loaded.signatures["sample"](count=tf.constant(5), seed=seed)["image"].shape == (5, 28, 28, 1)
    print("ok", int(loaded.latent_dim.numpy()))
    """
)


def _check_in_fresh_process(tmp_path, path, arrays):
    data = tmp_path / "data.npz"
    np.savez(data, **arrays)
    script = tmp_path / "check.py"
    script.write_text(_CHECK)
    env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(script), path, str(data)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_cvae_export_signatures_match_the_model(tmp_path):
    cvae = MODELS.build(FcCVAEConfig(latent_dim=2, hidden=[16], likelihood="continuous_bernoulli"))
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 28, 28, 1)).astype(np.float32), rng.random((3, 28, 28, 1)).astype(np.float32)
    cvae({"image": x, "perturbed": y})
    z, code = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    prior = cvae.prior(x)
    arrays = dict(x=x, y=y, z=z, code=code, prior_mean=prior.mean().numpy(), prior_std=prior.stddev().numpy(),
                  generated=cvae.generate(x, z).numpy(), posterior_mean=cvae.encode(x, y).numpy(),
                  perturbed=cvae.generate(x, prior.mean() + prior.stddev() * code).numpy())
    path = export.export_generative(cvae, str(tmp_path / "exports" / "c"), {"task": "cvae", "latent_dim": 2})
    assert path == str(tmp_path / "exports" / "c" / "1")
    assert json.load(open(os.path.join(path, "assets", "generative.json")))["latent_dim"] == 2
    assert _check_in_fresh_process(tmp_path, path, arrays) == "ok 2"

    loaded = perturbation.load_perturbation_set(path)
    np.testing.assert_allclose(loaded.perturb(x, code).numpy(), arrays["perturbed"], atol=1e-5)
    with tf.GradientTape() as tape:
        u = tf.zeros([3, 2])
        tape.watch(u)
        total = tf.reduce_sum(loaded.perturb(x, u))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, u)))) > 0, "the loaded set is differentiable"
    assert export.export_generative(cvae, str(tmp_path / "exports" / "c"), {}).endswith(os.path.join("c", "2"))


def test_vae_export_signatures_match_the_model(tmp_path):
    vae = MODELS.build(ConvVAEConfig(latent_dim=3, filters=4, generate_noise=0.05))
    rng = np.random.default_rng(1)
    x = rng.random((2, 28, 28, 1)).astype(np.float32)
    vae(x)
    z = rng.normal(size=(2, 3)).astype(np.float32)
    arrays = dict(x=x, z=z, mean=vae.encode(x).mean().numpy(), decoded=vae.decode_mean(z).numpy(),
                  generated=vae.generate(x, seed=(3, 4)).numpy())
    path = export.export_generative(vae, str(tmp_path / "v"), {"task": "vae"})
    assert _check_in_fresh_process(tmp_path, path, arrays) == "ok 3"
