"""The ``cvae`` attack: PGD inside a learned perturbation set loaded from its export."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import yaml

from robustkit import config as config_lib
from robustkit import validate_adv
from robustkit.attacks import ATTACKS, build_attack
from robustkit.generative import export
from robustkit.generative.config import MODELS, FcCVAEConfig
from robustkit.generative.perturbation import PerturbationSetError, load_perturbation_set
from robustkit.training.export import export_model
from tests.attacks import tiny
from tests.helpers import learnable_images, write_learnable_idx


@pytest.fixture(scope="module")
def cvae_root(tmp_path_factory):
    """An untrained fully-connected CVAE of 28x28x1 images, exported; its set is random but fixed."""
    keras.utils.set_random_seed(5)
    cvae = MODELS.build(FcCVAEConfig(latent_dim=3, hidden=[32], likelihood="continuous_bernoulli"))
    x = np.zeros((2, 28, 28, 1), np.float32)
    cvae({"image": x, "perturbed": x})
    root = tmp_path_factory.mktemp("cvae") / "exports" / "set"
    export.export_generative(cvae, str(root), {"task": "cvae", "latent_dim": 3})
    return str(root)


@pytest.fixture(scope="module")
def trained_cvae_root(tmp_path_factory):
    """A CVAE fitted briefly on (x, x + brightness shift) pairs, exported: its radius-0 images resemble x."""
    keras.utils.set_random_seed(5)
    cvae = MODELS.build(FcCVAEConfig(latent_dim=3, hidden=[64], likelihood="continuous_bernoulli"))
    x, _ = tiny.images(512, seed=4)
    shift = np.random.default_rng(0).uniform(-1.0, 1.0, size=(512, 1, 1, 1)).astype(np.float32)
    pairs = {"image": x, "perturbed": np.clip(x + shift, 0.0, 1.0)}
    cvae({key: value[:2] for key, value in pairs.items()})
    cvae.compile(optimizer=keras.optimizers.Adam(0.003))
    cvae.fit(pairs, epochs=6, batch_size=32, verbose=0)
    root = tmp_path_factory.mktemp("trained_cvae") / "exports" / "set"
    export.export_generative(cvae, str(root), {"task": "cvae", "latent_dim": 3})
    return str(root)


def _attack(path, **options):
    return build_attack(config_lib.parse(ATTACKS.options("cvae"), {"name": "cvae", "path": path, **options}))


def _loss(model, images, labels):
    return keras.losses.sparse_categorical_crossentropy(labels, model(images), from_logits=True).numpy()


def test_worst_case_is_in_the_box_never_below_the_prior_mean_and_seeded(cvae_root):
    attack = _attack(cvae_root, iterations=5)
    model = tiny.trained_cnn()
    x, y = tiny.images(12, seed=3)
    pset = load_perturbation_set(cvae_root)
    at_mean = pset.perturb(x, tf.zeros([12, 3])).numpy()
    np.testing.assert_allclose(attack(model, x, y, epsilon=0.0).numpy(), at_mean, atol=1e-5,
                               err_msg="radius 0 is the generator's image of the prior mean")
    adv = attack(model, x, y, epsilon=2.0, seed=(1, 2)).numpy()
    assert adv.shape == x.shape and adv.min() >= 0.0 and adv.max() <= 1.0
    assert (_loss(model, adv, y) >= _loss(model, at_mean, y) - 1e-5).all(), "PGD keeps the best point it saw"
    assert _loss(model, adv, y).mean() > _loss(model, at_mean, y).mean()
    np.testing.assert_array_equal(attack(model, x, y, epsilon=2.0, seed=(1, 2)).numpy(), adv)
    assert attack.describe() == "cvae (latent ball, 5 iterations)"
    assert attack.norm == "latent"


def test_models_of_another_shape_get_the_set_resized(cvae_root):
    keras.utils.set_random_seed(0)
    rgb = keras.Sequential([keras.layers.Conv2D(4, 3, input_shape=(32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                            keras.layers.Dense(4)])
    x = np.random.default_rng(0).random((5, 32, 32, 3)).astype(np.float32)
    y = np.arange(5) % 4
    attack = _attack(cvae_root, iterations=3)
    adv = attack(rgb, x, y, epsilon=1.0).numpy()
    assert adv.shape == (5, 32, 32, 3) and adv.min() >= 0.0 and adv.max() <= 1.0
    np.testing.assert_allclose(adv[..., 0], adv[..., 2], atol=1e-6, err_msg="a grey set yields grey images")
    grey = tf.image.resize(tf.image.rgb_to_grayscale(x), [28, 28])
    expected = tf.tile(tf.image.resize(load_perturbation_set(cvae_root).perturb(grey, tf.zeros([5, 3])), [32, 32]),
                       [1, 1, 1, 3])
    np.testing.assert_allclose(attack(rgb, x, y, epsilon=0.0).numpy(), expected.numpy(), atol=1e-5)


def test_bad_options_fail_when_the_attack_is_built(tmp_path, cvae_root):
    with pytest.raises(PerturbationSetError, match="perturbation set path '.*nowhere' does not exist"):
        _attack(str(tmp_path / "nowhere"))
    model_dir = tmp_path / "classifier"
    export_model(tiny.cnn(), str(model_dir), [f"c{i}" for i in range(4)], tf.distribute.get_strategy())
    with pytest.raises(PerturbationSetError, match="not a CVAE export of robustkit"):
        _attack(str(model_dir))
    with pytest.raises(config_lib.ConfigError, match="path is empty"):
        _attack("")
    with pytest.raises(config_lib.ConfigError, match=r"epsilon -1\.0 is outside \[0, inf\)"):
        _attack(cvae_root, epsilons=[-1.0])
    assert _attack(cvae_root, epsilons=[3.0, 0.0]).epsilons == [0.0, 3.0], "radii above 1 are allowed"


def test_validate_adv_scores_models_on_the_learned_set(tmp_path, trained_cvae_root):
    cvae_root = trained_cvae_root
    data = write_learnable_idx(tmp_path / "data", train=64, test=32)
    classifier = tiny.trained_cnn(classes=10)
    export_model(classifier, str(tmp_path / "m"), [f"c{i}" for i in range(10)], tf.distribute.get_strategy())
    config = {"run": {"name": "v", "seed": 1}, "data": {"name": "mnist", "dir": data, "eval_limit": 32},
              "batch_size": 16, "sanity": {"examples": 8, "large_epsilon_iterations": 2}, "report": {"examples": 2},
              "attacks": {"cvae": {"path": cvae_root, "epsilons": [0.0, 1.0, 3.0], "iterations": 3},
                          "fgsm": {"epsilons": [0.1]}}}
    path = tmp_path / "v.yaml"
    path.write_text("# python -m robustkit.validate_adv --config v.yaml\n" + yaml.safe_dump(config))
    out = tmp_path / "out"
    assert validate_adv.main(["--config", str(path), "--model", f"m={tmp_path / 'm'}", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["models"]["m"]["attacks"]["cvae"]
    assert [r["epsilon"] for r in rows] == [0.0, 1.0, 3.0]
    # The reported accuracy is the classifier's on the attack's own images, recomputed here.
    x, y = learnable_images(32, 4, seed=1)  # The test split write_learnable_idx wrote.
    x = (x[..., None] / 255.0).astype(np.float32)
    attack = _attack(cvae_root, iterations=3)
    adv = np.concatenate([attack(classifier, x[i:i + 16], y[i:i + 16], epsilon=3.0).numpy() for i in (0, 16)])
    assert rows[-1]["accuracy"] == pytest.approx(np.mean(np.argmax(classifier(adv).numpy(), axis=1) == y))
    assert rows[-1]["mean_l2"] == pytest.approx(np.mean(np.linalg.norm((adv - x).reshape(32, -1), axis=1)), rel=1e-4)
    # On a trained set, radius 0 (the set's reconstruction of x) keeps the classifier right; the
    # worst case within radius 3 does not.
    assert rows[0]["accuracy"] >= 0.9 and rows[-1]["accuracy"] < rows[0]["accuracy"] - 0.1, rows
    assert "latent" in metrics["models"]["m"]["worst_case"] and "linf" in metrics["models"]["m"]["worst_case"]
    assert metrics["attacks"]["cvae"]["norm"] == "latent"
    assert metrics["attacks"]["cvae"]["parameters"]["path"] == cvae_root
    csv_rows = [line for line in (out / "robust_accuracy.csv").read_text().splitlines() if ",cvae," in line]
    assert len(csv_rows) == 3
