"""The Python front door: `robustkit.train`, `evaluate`, `load_model`, `load_examples` and `robustkit.attacks.*`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import robustkit
from robustkit import config as config_lib
from robustkit.evaluation import runner
from robustkit.evaluation.config import ValidateJob
from robustkit.training.config import TrainJob
from tests import helpers


def _linear(seed: int = 0, shape=(4, 4, 1), classes: int = 2) -> keras.Model:
    tf.random.set_seed(seed)
    return keras.Sequential([keras.layers.Flatten(input_shape=shape), keras.layers.Dense(classes)])


def _images(n: int = 32, shape=(4, 4, 1), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, (n, *shape)).astype(np.float32)


def test_import_starts_no_tensorflow_and_names_the_api():
    code = ("import sys, robustkit\n"
            "assert 'tensorflow' not in sys.modules, 'import robustkit started TensorFlow'\n"
            "names = set(dir(robustkit))\n"
            "print(sorted({'train', 'evaluate', 'explain', 'load_model', 'load_examples', 'load_perturbation_set',"
            " 'attacks'} - names))\n"
            "assert 'tensorflow' not in sys.modules, 'dir(robustkit) started TensorFlow'\n"
            "print(callable(robustkit.attacks.pgd), callable(robustkit.evaluate))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=helpers.ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["[]", "True True"]


def test_pgd_moves_a_linear_model_to_the_corner_of_the_ball():
    # For logits (0, w.x) and label 1 the loss grows fastest along -sign(w); PGD-10 with steps of
    # 2.5 * eps / 10 reaches the corner x - eps * sign(w) from any start in the ball.
    model = keras.Sequential([keras.layers.Flatten(input_shape=(4, 4, 1)), keras.layers.Dense(2)])
    w = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    model.layers[1].set_weights([w, np.zeros(2, np.float32)])
    images, labels = _images(), np.ones(32, np.int64)
    adversarial = robustkit.attacks.pgd(model, images, labels, epsilon=0.1, norm="linf", iterations=10)
    corner = images - 0.1 * np.sign(w[:, 1] - w[:, 0]).reshape(1, 4, 4, 1)
    assert isinstance(adversarial, np.ndarray) and adversarial.dtype == np.float32
    np.testing.assert_allclose(adversarial, corner, atol=1e-6)


def test_a_model_path_and_a_callable_give_the_images_of_the_keras_model(tmp_path):
    model = _linear(seed=3, classes=3)
    images = _images(48, seed=2)
    labels = np.argmax(model.predict(images, verbose=0), axis=-1)
    model.save(str(tmp_path / "saved"))
    from_model = robustkit.attacks.pgd(model, images, labels, epsilon=0.05, iterations=5, seed=7, batch_size=16)
    from_path = robustkit.attacks.pgd(str(tmp_path / "saved"), images, labels, epsilon=0.05, iterations=5, seed=7,
                                      batch_size=16)
    from_callable = robustkit.attacks.attack("pgd", lambda x: model(x), images, labels, epsilon=0.05, iterations=5,
                                             seed=7, batch_size=16)
    np.testing.assert_allclose(from_path, from_model, atol=1e-5)
    np.testing.assert_array_equal(from_callable, from_model)
    # One short step from the random start keeps the start's trace (longer runs reach the ball's corner).
    first, again, other = (robustkit.attacks.pgd(model, images, labels, epsilon=0.05, iterations=1, step_size=0.5,
                                                 seed=s, batch_size=16) for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other), "the seed must reach the random start"


def test_attack_options_are_checked_as_a_config_file_is():
    model, images = _linear(), _images(4)
    labels = np.zeros(4, np.int64)
    with pytest.raises(config_lib.ConfigError, match="'itertions' is not a known key; did you mean 'iterations'"):
        robustkit.attacks.pgd(model, images, labels, epsilon=0.1, itertions=3)
    with pytest.raises(config_lib.ConfigError, match="iterations = 0 must be at least 1"):
        robustkit.attacks.pgd(model, images, labels, epsilon=0.1, iterations=0)
    with pytest.raises(config_lib.ConfigError, match="unknown attack 'pgdd'; known attacks: .*pgd"):
        robustkit.attacks.attack("pgdd", model, images, labels, epsilon=0.1)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\].*divide uint8 pixels by 255"):
        robustkit.attacks.fgsm(model, images * 255, labels, epsilon=0.1)
    with pytest.raises(ValueError, match="labels must be integer class ids, one per image"):
        robustkit.attacks.fgsm(model, images, labels[:3], epsilon=0.1)


def test_evaluate_on_arrays_matches_validate_adv_on_the_same_files(tmp_path):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=64, test=96)
    tf.random.set_seed(0)
    model = keras.Sequential([keras.layers.Conv2D(4, 3, strides=2, activation="relu", input_shape=(28, 28, 1)),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    train_x, train_y = robustkit.load_examples({"name": "mnist", "dir": data_dir}, split="train")
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_x, train_y, epochs=5, verbose=0)  # Accurate enough that the [0, 1] input range is clear.
    model.save(str(tmp_path / "m"))
    attacks = {"fgsm": {"epsilons": [0.0, 0.05]}, "pgd": {"epsilons": [0.05], "iterations": 5}}
    job = config_lib.parse(ValidateJob, {"data": {"name": "mnist", "dir": data_dir}, "attacks": attacks,
                                         "batch_size": 32, "sanity": {"examples": 32}})
    from_files = runner.validate(job, {"m": str(tmp_path / "m")})
    images, labels = robustkit.load_examples({"name": "mnist", "dir": data_dir}, split="test")
    assert images.shape == (96, 28, 28, 1) and labels.dtype == np.int64
    from_arrays = robustkit.evaluate({"m": model}, images, labels, attacks=attacks, batch_size=32,
                                     sanity={"examples": 32}, out_dir=str(tmp_path / "report"))
    assert from_arrays.clean_accuracy("m") == from_files.clean_accuracy("m")
    assert [(r.attack, r.epsilon, r.accuracy) for r in from_arrays.rows] == \
        [(r.attack, r.epsilon, r.accuracy) for r in from_files.rows]
    predicted = np.argmax(model.predict(images, verbose=0), axis=-1)
    assert from_arrays.clean_accuracy("m") == pytest.approx(np.mean(predicted == labels))
    with open(tmp_path / "report" / "metrics.json") as f:
        record = json.load(f)
    assert list(record["models"]) == ["m"] and set(record["attacks"]) == {"fgsm", "pgd"}
    assert os.path.isfile(tmp_path / "report" / "report.html")


def test_evaluate_refuses_what_it_cannot_score():
    model, images = _linear(), _images(8)
    labels = np.zeros(8, np.int64)
    with pytest.raises(ValueError, match="at least one model"):
        robustkit.evaluate({}, images, labels)
    with pytest.raises(config_lib.ConfigError, match="surrogate = 'elsewhere' is not one of the models"):
        robustkit.evaluate({"m": model}, images, labels, attacks={"transfer": {"surrogate": "elsewhere",
                                                                               "epsilons": [0.1]}})
    with pytest.raises(config_lib.ConfigError, match="attacks.pgd.epsilonz"):
        robustkit.evaluate({"m": model}, images, labels, attacks={"pgd": {"epsilonz": [0.1]}})


def test_train_from_python_then_load_and_attack(tmp_path):
    data_dir = helpers.write_learnable_idx(tmp_path / "data", train=128, test=32)
    config = helpers.train_config(tmp_path, data_dir)
    with pytest.raises(config_lib.ConfigError, match="train.epochs"):
        robustkit.train(config, train={"epochs": "two"})
    job = config_lib.parse(TrainJob, config_lib.read_yaml(config))
    job.train.epochs = "one"  # A job built in Python is checked as a parsed one.
    with pytest.raises(config_lib.ConfigError, match="train.epochs"):
        robustkit.train(job)
    result = robustkit.train(config, train={"epochs": 1}, run={"name": "api"})
    assert result.metrics["epochs"] == 1 and os.path.isdir(result.export_path)
    assert os.path.basename(os.path.dirname(result.export_path)) == "m"
    images, labels = robustkit.load_examples({"name": "mnist", "dir": data_dir}, split="test", limit=16)
    loaded = robustkit.load_model(result.export_path)
    np.testing.assert_allclose(loaded(tf.constant(images)).numpy(),
                               result.model(images, training=False).numpy(), atol=1e-5)
    adversarial = robustkit.attacks.fgsm(loaded, images, labels, epsilon=0.1)
    assert np.max(np.abs(adversarial - images)) == pytest.approx(0.1, abs=1e-6)


def test_explain_is_callable_even_once_its_package_is_imported():
    import robustkit.explain.config  # noqa: F401  (binds the package as robustkit.explain)

    assert callable(robustkit.explain)
    with pytest.raises(config_lib.ConfigError, match="saliencyy"):
        robustkit.explain({}, {"saliencyy": {}})
