"""Classifier training against a learned perturbation set: the loss by hand, the config checks, a real run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import train
from robustkit.generative import export
from robustkit.generative.config import MODELS, FcCVAEConfig
from robustkit.generative.perturbation import PerturbationSet
from robustkit.training.config import LearnedSetConfig, TrainJob
from robustkit.training.learned_set import LearnedSetTrainer
from tests import helpers

RNG = np.random.default_rng(0)
X = (RNG.random((8, 28, 28, 1)) * 0.5).astype(np.float32)
Y = (np.arange(8) % 3).astype(np.int64)


def _shift_set():
    """g(x, z) = clip(x + z * pattern): a one-dimensional set with a N(0, 1) prior."""
    pattern = tf.constant(np.linspace(-0.5, 0.5, 784, dtype=np.float32).reshape(1, 28, 28, 1))

    def prior(images):
        return tf.zeros([tf.shape(images)[0], 1]), tf.ones([tf.shape(images)[0], 1])

    def generator(images, z):
        return tf.clip_by_value(images + z[:, :, None, None] * pattern, 0.0, 1.0)

    return PerturbationSet(prior, generator, latent_dim=1, image_shape=(28, 28, 1))


def _classifier():
    keras.utils.set_random_seed(3)
    image = keras.Input((28, 28, 1), name="image")
    return keras.Model(image, keras.layers.Dense(3)(keras.layers.Flatten()(image)))


def _ce(model, images):
    return keras.losses.sparse_categorical_crossentropy(Y, model(images), from_logits=True).numpy().mean()


@pytest.mark.parametrize("mode", ["augment", "adversarial"])
def test_the_first_step_loss_is_the_weighted_clean_and_perturbed_loss(mode):
    base, pset = _classifier(), _shift_set()
    options = LearnedSetConfig(mode=mode, path="unused", radius=1.5, iterations=4, weight=0.3)
    trainer = LearnedSetTrainer(base, pset, options, seed=7)
    trainer.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    if mode == "augment":
        perturbed = pset.sample(X, 1, 1.5, seed=[7, 0])[0]
    else:
        perturbed, _ = pset.worst_case(lambda x: base(x, training=False), X, Y, 1.5, steps=4)
    expected = 0.7 * _ce(base, X) + 0.3 * _ce(base, perturbed)
    logs = trainer.fit({"image": X}, Y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert set(logs) == {"loss", "accuracy", "perturbed_accuracy"}
    if mode == "adversarial":
        assert _ce(base, perturbed) > _ce(base, X), "the worst case raises the loss"


def test_a_classifier_of_another_input_shape_trains_on_the_resized_set():
    # A 32x32 RGB classifier against a 28x28 grey set: the set is resized and copied to three channels.
    keras.utils.set_random_seed(4)
    image = keras.Input((32, 32, 3), name="image")
    base = keras.Model(image, keras.layers.Dense(3)(keras.layers.Flatten()(image)))
    x = tf.image.resize(tf.image.grayscale_to_rgb(tf.constant(X)), [32, 32]).numpy()
    pset = _shift_set()
    trainer = LearnedSetTrainer(base, pset, LearnedSetConfig(mode="augment", path="unused", radius=1.5, weight=1.0),
                                seed=7)
    trainer.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    perturbed = pset.for_shape((32, 32, 3)).sample(x, 1, 1.5, seed=[7, 0])[0].numpy()
    assert perturbed.shape == (8, 32, 32, 3) and not np.allclose(perturbed, x, atol=1e-3)
    np.testing.assert_allclose(perturbed[..., 0], perturbed[..., 2], atol=1e-6)
    expected = keras.losses.sparse_categorical_crossentropy(Y, base(perturbed), from_logits=True).numpy().mean()
    logs = trainer.fit({"image": x}, Y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("mode", ["augment", "adversarial"])
def test_a_weight_of_zero_trains_exactly_like_plain_training(mode):
    plain = _classifier()
    plain.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit({"image": X}, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    base = _classifier()
    trainer = LearnedSetTrainer(base, _shift_set(), LearnedSetConfig(mode=mode, path="unused", radius=1.5,
                                                                     iterations=2, weight=0.0), seed=7)
    trainer.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logs = trainer.fit({"image": X}, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    moved = max(np.abs(a - b).max() for a, b in zip(plain.get_weights(), _classifier().get_weights()))
    assert moved > 1e-3, "training moved the weights"
    for got, want in zip(base.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert "perturbed_accuracy" in logs


def test_adversarial_training_on_the_set_is_more_robust_inside_it():
    """Fitting to the worst case of a shift set makes the model's worst case in it less harmful."""
    pset = _shift_set()
    x, y = helpers.learnable_images(256, 3, seed=1)
    x = (x[..., None] / 255.0).astype(np.float32)
    results = {}
    for mode in ("none", "adversarial"):
        base = _classifier()
        trainer = base if mode == "none" else LearnedSetTrainer(
            base, pset, LearnedSetConfig(mode=mode, path="unused", radius=2.0, iterations=3, weight=0.5))
        trainer.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        trainer.fit({"image": x}, y, batch_size=32, epochs=4, verbose=0)
        worst, _ = pset.worst_case(lambda im: base(im, training=False), x, y, 2.0, steps=5)
        results[mode] = (float(np.mean(np.argmax(base(worst).numpy(), axis=1) == y)),
                         float(np.mean(np.argmax(base(x).numpy(), axis=1) == y)))
    assert results["adversarial"][0] > results["none"][0] + 0.3, results
    assert results["adversarial"][1] >= 0.9, "clean accuracy is kept"


def test_config_checks(tmp_path):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=64, test=16)
    cases = [
        ({"learned_set": {"mode": "augment"}}, "learned_set.mode = augment needs learned_set.path"),
        ({"learned_set": {"mode": "adversarial", "path": str(tmp_path)}, "adversarial": {"enabled": True}},
         "cannot be combined"),
        ({"learned_set": {"mode": "augment", "path": "x", "weight": 1.5}}, r"weight = 1\.5 must lie in \[0, 1\]"),
        ({"learned_set": {"mode": False}}, "has value False; expected one of 'none', .*YAML reads unquoted on, off"),
    ]
    for sections, pattern in cases:
        path = helpers.train_config(tmp_path, data_dir, **sections)
        with pytest.raises(config_lib.ConfigError, match=pattern):
            config_lib.load(TrainJob, path)


def test_a_missing_set_fails_before_training(tmp_path, capsys):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=64, test=16)
    path = helpers.train_config(tmp_path, data_dir, learned_set={"mode": "augment", "path": str(tmp_path / "none")})
    assert train.main(["--config", path]) == 2
    assert "perturbation set path '" + str(tmp_path / "none") + "' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run").exists(), "nothing was written"


def _exported_set(tmp_path) -> str:
    keras.utils.set_random_seed(2)
    cvae = MODELS.build(FcCVAEConfig(latent_dim=2, hidden=[16], likelihood="continuous_bernoulli"))
    cvae({"image": X[:2], "perturbed": X[:2]})
    set_root = str(tmp_path / "sets" / "cvae")
    export.export_generative(cvae, set_root, {"task": "cvae", "latent_dim": 2})
    return set_root


@pytest.mark.slow
def test_train_cli_against_an_exported_set(tmp_path, capsys):
    set_root = _exported_set(tmp_path)
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    path = helpers.train_config(tmp_path, data_dir, train={"epochs": 1},
                                learned_set={"mode": "adversarial", "path": set_root, "iterations": 2})
    assert train.main(["--config", path]) == 0
    exported = capsys.readouterr().out.strip().splitlines()[-1]
    assert exported.startswith("exported: ")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["learned_set"]["mode"] == "adversarial" and metrics["learned_set"]["path"] == set_root
    # The worst members of an untrained CVAE's set carry little of the image: the classifier
    # gets fewer of them right than of the clean images it trained on.
    assert 0.0 <= metrics["train_perturbed_accuracy"] < metrics["train_accuracy"], metrics
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert "perturbed_accuracy" in history[0].split(",")
    loaded = tf.saved_model.load(exported.split(": ", 1)[1])
    assert "serving_default" in loaded.signatures, "the base classifier is exported, not the trainer"
    assert os.path.isfile(tmp_path / "run" / "training_curves.png")


@pytest.mark.slow
def test_augment_mode_under_mirrored_strategy(tmp_path):
    """The set is loaded inside the strategy's scope and drawn from in each replica."""
    from robustkit.training.loop import run_training

    set_root = _exported_set(tmp_path)
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    path = helpers.train_config(tmp_path, data_dir, train={"epochs": 1, "steps_per_epoch": 3},
                                distribute={"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]},
                                learned_set={"mode": "augment", "path": set_root})
    result = run_training(config_lib.load(TrainJob, path))
    assert result.metrics["replicas"] == 2
    assert 0.0 <= result.metrics["train_perturbed_accuracy"] <= 1.0
    assert os.path.isfile(os.path.join(result.export_path, "saved_model.pb"))
