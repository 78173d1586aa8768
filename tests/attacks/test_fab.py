"""FAB: the exact box-constrained projection, and the analytic minimal perturbation of a linear model."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.fab_attack import FabConfig, fab, project_to_hyperplane
from tests.attacks import linear, tiny


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_reaches_the_hyperplane_by_the_smallest_step(norm):
    rng = np.random.default_rng(0)
    points = rng.uniform(0.3, 0.7, size=(6, 16)).astype("float32")
    w = rng.normal(size=(6, 16)).astype("float32")
    b = (np.sum(w * points, 1) + rng.normal(size=6)).astype("float32")
    step = project_to_hyperplane(tf.constant(points), tf.constant(w), tf.constant(b), norm).numpy()
    np.testing.assert_allclose(np.sum(w * (points + step), 1), b, atol=1e-4)
    assert (points + step).min() >= 0 and (points + step).max() <= 1
    gap = np.abs(b - np.sum(w * points, 1))
    size = np.abs(step).max(1) if norm == "linf" else np.linalg.norm(step, axis=1)
    free_space = gap / (np.abs(w).sum(1) if norm == "linf" else np.linalg.norm(w, axis=1))
    inside = np.all((points + step > 1e-6) & (points + step < 1 - 1e-6), axis=1)
    np.testing.assert_allclose(size[inside], free_space[inside], rtol=1e-4)  # The dual-norm formula.
    assert np.all(size >= free_space * (1 - 1e-4))  # The box can only make the step longer.


def test_projection_with_the_box_active_is_still_optimal():
    # Two coordinates, w = (1, 1), plane x1 + x2 = 1.5 from (0.9, 0.1): L-inf answer (1.0, 0.5) is blocked
    # by the box at x1 = 1, so the smallest L-inf step is (0.1, 0.4) with norm 0.4 (unconstrained: 0.25 each).
    points, w, b = tf.constant([[0.9, 0.1]]), tf.constant([[1.0, 1.0]]), tf.constant([1.5])
    np.testing.assert_allclose(project_to_hyperplane(points, w, b, "linf").numpy(), [[0.1, 0.4]], atol=1e-6)
    # L2: the free step (0.25, 0.25) is blocked at x1 = 1 too: (0.1, 0.4) again.
    np.testing.assert_allclose(project_to_hyperplane(points, w, b, "l2").numpy(), [[0.1, 0.4]], atol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("targeted", [False, True])
def test_fab_finds_the_analytic_minimal_perturbation_within_one_percent(norm, targeted):
    model, x, y, distance = linear.examples(3, norm, count=16)
    attack = fab(FabConfig(norm=norm, targeted=targeted, n_target_classes=2))
    adv, found = attack.minimal(model, x, y, seed=(0, 1))
    assert np.all(np.argmax(model(adv).numpy(), -1) != y)
    size = base.per_example_norm(tf.constant(adv.numpy() - x), norm).numpy()
    np.testing.assert_allclose(size, found, rtol=1e-5)
    assert np.all(found >= distance * (1 - 1e-4)) and np.all(found <= distance * 1.01)
    # As an attack with a radius: fooled within epsilon, else the clean image back.
    radius = float(np.median(distance))
    out = attack(model, x, y, epsilon=radius, seed=(0, 1)).numpy()
    inside = distance * 1.01 < radius
    assert np.all(np.argmax(model(out[inside]).numpy(), -1) != y[inside])
    np.testing.assert_array_equal(out[distance > radius], x[distance > radius])


def test_fab_on_a_cnn_stays_in_the_box_and_restarts_from_random_points():
    model = tiny.trained_cnn()
    x, y = tiny.images(8, seed=9)
    attack = fab(FabConfig(iterations=21, restarts=2, epsilons=[0.45]))  # > 20: a loop, traced fast.
    adv = attack(model, x, y, epsilon=0.45, seed=(2, 3)).numpy()
    assert adv.min() >= 0 and adv.max() <= 1 and np.abs(adv - x).max() <= 0.45 + 1e-6
    assert np.mean(np.argmax(model(adv).numpy(), -1) != y) > 0.5
