"""AutoAttack's warnings: a masked model, a randomised model, softmax outputs, too few classes."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.attacks.autoattack_cascade import AutoAttackConfig, autoattack
from robustkit.evaluation import aa_checks
from robustkit.evaluation.scoring import AttackInfo, Results
from tests.attacks import tiny


def _results(model_name, clean, version="standard", n_target_classes=9):
    options = AutoAttackConfig(version=version, n_target_classes=n_target_classes)
    info = AttackInfo(label="autoattack", name="autoattack", norm="linf", kind="white_box", targeted=None,
                      examples=len(clean), description="", parameters=vars(options).copy())
    return Results(models=[model_name], num_examples=len(clean), clean={model_name: clean},
                   attacks={"autoattack": info})


def _by_name(checks):
    return {c["name"]: c for c in checks}


def _quantised(model: keras.Model) -> keras.Model:
    """``model`` behind a saturating 4-level input quantiser: flat almost everywhere, so its gradient is zero."""
    image = keras.Input((28, 28, 1))
    steps = keras.layers.Lambda(lambda x: x * 0.0 + tf.stop_gradient(tf.round(x * 3.0) / 3.0))(image)
    return keras.Model(image, model(steps))


def test_a_gradient_masked_model_trips_the_square_and_gradient_warnings():
    masked = _quantised(tiny.trained_cnn())
    x, y = tiny.images(32, seed=12)
    attack = autoattack(AutoAttackConfig(epsilons=[0.45], iterations=25, square_queries=150, n_target_classes=2))
    result = attack.run(masked, x, y, 0.45, seed=(0, 1), batch_size=32)
    results = _results("masked", result.clean, n_target_classes=2)
    results.autoattack["masked"] = [{"attack": "autoattack", "epsilon": 0.45, "stages": result.stages}]
    results.probes["masked"] = probed = aa_checks.probe(masked, x, y)
    checks = _by_name(aa_checks.run_checks(results))
    square = checks["square_no_stronger_than_white_box"]
    assert square["passed"] is False and "masked" in square["details"]
    assert checks["dlr_gradients_finite_and_nonzero"]["passed"] is False
    assert checks["dlr_gradients_finite_and_nonzero"]["values"]["zero"] == probed["correct"] > 0
    assert checks["deterministic_forward_pass"]["passed"] and checks["outputs_are_logits"]["passed"]
    # The same cascade on the unmasked model: the white-box stages leave Square nothing.
    plain = tiny.trained_cnn()
    result = attack.run(plain, x, y, 0.45, seed=(0, 1), batch_size=32)
    results.autoattack["masked"] = [{"attack": "autoattack", "epsilon": 0.45, "stages": result.stages}]
    assert aa_checks.square_masking(results, "masked")["passed"] is True


def test_a_randomised_model_trips_the_randomness_warning_and_rand_is_suggested():
    base_model = tiny.trained_cnn()
    image = keras.Input((28, 28, 1))
    noisy = keras.Model(image, keras.layers.Dropout(0.5)(base_model(image), training=True))  # MC dropout.
    x, y = tiny.images(16, seed=13)
    results = _results("noisy", np.ones(16, bool))
    results.probes["noisy"] = aa_checks.probe(noisy, x, y)
    check = aa_checks.randomness(results, "noisy")
    assert check["passed"] is False and "version: rand" in check["details"]
    assert check["values"]["max_output_difference"] > 1e-4
    results.attacks["autoattack"].parameters["version"] = "rand"
    assert "version: rand" not in aa_checks.randomness(results, "noisy")["details"]
    results.probes["plain"] = aa_checks.probe(base_model, x, y)
    assert aa_checks.randomness(results, "plain")["passed"] is True


def test_softmax_outputs_and_too_few_classes_are_reported():
    weights = np.random.default_rng(0).normal(size=(784, 3)).astype("float32")
    softmax = lambda images: tf.nn.softmax(tf.reshape(images, [-1, 784]) @ weights)  # noqa: E731
    x, y = tiny.images(8, seed=14, num_classes=3)
    results = _results("soft", np.ones(8, bool))
    results.probes["soft"] = aa_checks.probe(softmax, x, y)
    checks = _by_name(aa_checks.run_checks(results))
    logits = checks["outputs_are_logits"]
    assert logits["passed"] is False and "probabilities" in logits["details"]
    classes = checks["enough_classes_for_autoattack"]
    assert classes["passed"] is False and "targeted DLR" in classes["details"] and "n_target_classes = 9" in \
        classes["details"]
    assert checks["square_no_stronger_than_white_box"]["passed"] is None  # Nothing ran.


def test_a_flat_dlr_on_an_already_misclassified_example_is_no_warning():
    """Label third-highest: DLR = (z_1 - z_3) / (z_1 - z_3) = 1 is flat there, a true zero gradient."""
    def model(x):
        shift = tf.reduce_sum(x, axis=[1, 2, 3])[:, None] * tf.constant([[1.0, 0.0, 0.0, 0.0]])
        return tf.constant([[3.0, 2.0, 1.0, 0.0]]) + shift

    x = np.full((2, 2, 2, 1), 0.1, np.float32)
    probed = aa_checks.probe(model, x, np.array([0, 2]))  # Correct, then misclassified with its label third.
    assert probed["correct"] == 1 and probed["dlr_gradient_zero"] == 0
    probed = aa_checks.probe(model, x[:1], np.array([2]))
    assert probed["correct"] == 0 and probed["dlr_gradient_zero"] == 0
