"""APGD: the paper's checkpoints, DLR by hand, the analytic boundary of a linear model, APGD against PGD."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit import config as config_lib
from robustkit.attacks import ATTACKS, base
from robustkit.attacks.apgd_attack import ApgdConfig, apgd, checkpoints, dlr_loss, targeted_dlr_loss
from robustkit.attacks.gradient import PgdConfig, pgd
from tests.attacks import linear, tiny


def test_checkpoints_are_the_papers_for_100_iterations():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce and Hein 2020, section 3.2).
    assert checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [0, 3, 5, 6, 7, 8, 9, 10]  # ceil(p_j * 10), nothing beyond N.


def test_dlr_and_targeted_dlr_equal_hand_computed_values():
    logits = tf.constant([[3.0, 1.0, 2.0, 0.5], [3.0, 1.0, 2.0, 0.5]])
    # Sorted: 3, 2, 1, 0.5. Label 0: -(3 - 2) / (3 - 1); label 2: -(2 - 3) / (3 - 1).
    np.testing.assert_allclose(dlr_loss(logits, tf.constant([0, 2], tf.int64)).numpy(), [-0.5, 0.5], rtol=1e-6)
    # Label 0, target 3: -(3 - 0.5) / (3 - (1 + 0.5) / 2); label 2, target 0: -(2 - 3) / 2.25.
    value = targeted_dlr_loss(logits, tf.constant([0, 2], tf.int64), tf.constant([3, 0], tf.int64)).numpy()
    np.testing.assert_allclose(value, [-2.5 / 2.25, 1.0 / 2.25], rtol=1e-6)
    # Shifting and scaling the logits leaves DLR unchanged (the point of the ratio).
    np.testing.assert_allclose(dlr_loss(5 * logits + 7, tf.constant([0, 2], tf.int64)).numpy(), [-0.5, 0.5],
                               rtol=1e-5)


@pytest.mark.parametrize("norm, classes, loss", [("linf", 2, "ce"), ("l2", 2, "ce"), ("linf", 3, "dlr"),
                                                 ("l2", 3, "dlr")])
def test_apgd_reaches_the_analytic_boundary_of_a_linear_model(norm, classes, loss):
    model, x, y, distance = linear.examples(classes, norm, count=6)
    attack = apgd(ApgdConfig(norm=norm, loss=loss, epsilons=[0.1]))
    for factor, expect_fooled in ((1.01, True), (0.99, False)):
        fooled = []
        for i in range(len(y)):  # One radius per example: 1 % beyond (or short of) its own distance.
            adv = attack(model, x[i:i + 1], y[i:i + 1], epsilon=float(distance[i] * factor), seed=(0, i)).numpy()
            size = base.per_example_norm(tf.constant(adv - x[i:i + 1]), norm).numpy()[0]
            assert size <= distance[i] * factor * (1 + 1e-5)
            fooled.append(np.argmax(model(adv).numpy()) != y[i])
        assert all(fooled) if expect_fooled else not any(fooled)


def test_apgd_ce_is_at_least_as_strong_as_pgd10_on_every_example_set():
    model = tiny.trained_cnn()
    for seed, eps in ((4, 0.3), (5, 0.35)):
        x, y = tiny.images(64, seed=seed)
        pgd_adv = pgd(PgdConfig(iterations=10))(model, x, y, epsilon=eps, seed=(1, seed)).numpy()
        apgd_adv = apgd(ApgdConfig(epsilons=[eps]))(model, x, y, epsilon=eps, seed=(1, seed)).numpy()
        pgd_accuracy = np.mean(np.argmax(model(pgd_adv).numpy(), -1) == y)
        apgd_accuracy = np.mean(np.argmax(model(apgd_adv).numpy(), -1) == y)
        assert apgd_accuracy <= pgd_accuracy, (seed, eps, apgd_accuracy, pgd_accuracy)


def test_targeted_apgd_with_eot_runs_and_stays_in_the_ball():
    model = tiny.trained_cnn()
    x, y = tiny.images(16, seed=8)
    attack = apgd(ApgdConfig(targeted=True, n_target_classes=2, iterations=21, eot_iter=2, epsilons=[0.3]))
    adv, fooled = attack.attack(model, tf.constant(x), tf.constant(y), 0.3, (0, 1))
    adv = adv.numpy()
    assert np.abs(adv - x).max() <= 0.3 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    np.testing.assert_array_equal(fooled, np.argmax(model(adv).numpy(), -1) != y)
    assert "targeted dlr" in attack.describe() and "EOT 2" in attack.describe()


def test_bad_options_are_refused_naming_the_key():
    with pytest.raises(config_lib.ConfigError, match="loss"):
        config_lib.parse(ATTACKS.options("apgd"), {"name": "apgd", "loss": "hinge"})
    with pytest.raises(ValueError, match="iterations = 0"):
        ApgdConfig(iterations=0)
