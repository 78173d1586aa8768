"""FGSM, FGM and PGD: known answers on a linear model, and PGD against FGSM on a trained one."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.gradient import FgmConfig, FgsmConfig, PgdConfig, fgm, fgsm, pgd
from tests.attacks import tiny


def _input_gradient(model, x, y):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(base.cross_entropy(model(xt), tf.constant(y)))
    return tape.gradient(loss, xt).numpy()


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model(x).numpy(), axis=-1) == y))


def test_fgsm_moves_every_pixel_by_exactly_epsilon_unless_clipped():
    model = tiny.linear_model()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(6, 4, 4, 1)).astype("float32")
    x[0, 0, 0, 0], x[1, 1, 1, 0] = 0.98, 0.01  # near the edges: clipped if pushed outwards
    y = np.array([0, 1, 2, 0, 1, 2])
    adv = fgsm(FgsmConfig())(model, x, y, epsilon=0.1).numpy()
    expected = np.clip(x + 0.1 * np.sign(_input_gradient(model, x, y)), 0.0, 1.0)
    np.testing.assert_allclose(adv, expected, atol=1e-6)
    inside = (expected > 0) & (expected < 1)
    np.testing.assert_allclose(np.abs(adv - x)[inside], 0.1, atol=1e-6)
    assert adv.min() >= 0 and adv.max() <= 1 and not inside.all()


def test_fgm_step_has_l2_norm_epsilon_along_the_gradient():
    model = tiny.linear_model()
    x = np.random.default_rng(1).uniform(0.3, 0.7, size=(5, 4, 4, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1])
    delta = (fgm(FgmConfig(epsilons=[0.0, 0.25]))(model, x, y, epsilon=0.25).numpy() - x).reshape(5, -1)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), 0.25, rtol=1e-5)
    grad = _input_gradient(model, x, y).reshape(5, -1)
    cosine = np.sum(delta * grad, axis=1) / np.linalg.norm(delta, axis=1) / np.linalg.norm(grad, axis=1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-5)


@pytest.mark.parametrize("norm, eps", [("linf", 0.05), ("l2", 0.8)])
def test_pgd_stays_inside_the_ball_and_the_box(norm, eps):
    model = tiny.trained_cnn()
    x, y = tiny.images(32, seed=3)
    attack = pgd(PgdConfig(norm=norm, epsilons=[eps], iterations=5, restarts=2, random_start=True))
    adv = attack(model, x, y, epsilon=eps, seed=(0, 1)).numpy()
    size = base.per_example_norm(tf.constant(adv - x), norm).numpy()
    assert size.max() <= eps * (1 + 1e-5) and size.max() > 0.5 * eps
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    again = attack(model, x, y, epsilon=eps, seed=(0, 1)).numpy()
    np.testing.assert_array_equal(adv, again)  # Stateless randomness: the same seed, the same images.


def test_pgd_is_at_least_as_strong_as_fgsm_on_a_trained_model():
    model = tiny.trained_cnn()
    x, y = tiny.images(128, seed=4)
    assert _accuracy(model, x, y) > 0.9
    eps = 0.4  # The quadrant task needs a large radius: a bright block must appear elsewhere.
    fgsm_acc = _accuracy(model, fgsm(FgsmConfig())(model, x, y, epsilon=eps).numpy(), y)
    pgd_acc = _accuracy(model, pgd(PgdConfig(iterations=10))(model, x, y, epsilon=eps, seed=(1, 2)).numpy(), y)
    assert pgd_acc <= fgsm_acc
    assert pgd_acc < 0.5


@pytest.mark.parametrize("mode", ["random", "least_likely"])
def test_targeted_attacks_raise_the_target_class(mode):
    model = tiny.trained_cnn()
    x, y = tiny.images(64, seed=5)
    attack = pgd(PgdConfig(targeted=mode, iterations=10))
    targets = attack.targets(model, x, y, seed=(0, 3)).numpy()
    assert np.all(targets != y)
    if mode == "least_likely":
        np.testing.assert_array_equal(targets, np.argmin(model(x).numpy(), axis=-1))
    adv = attack(model, x, y, epsilon=0.45, seed=(0, 3)).numpy()
    rows = np.arange(len(y))
    before = tf.nn.log_softmax(model(x)).numpy()[rows, targets]
    after_logits = model(adv).numpy()
    after = tf.nn.log_softmax(after_logits).numpy()[rows, targets]
    assert np.all(after > before)
    assert np.mean(after_logits[rows, targets]) > np.mean(model(x).numpy()[rows, targets])
    assert np.mean(np.argmax(after_logits, axis=-1) == targets) > 0.8


def test_margin_loss_attacks_too():
    model = tiny.trained_cnn()
    x, y = tiny.images(64, seed=6)
    adv = pgd(PgdConfig(loss="margin", iterations=10))(model, x, y, epsilon=0.45, seed=(0, 1)).numpy()
    assert _accuracy(model, adv, y) < 0.3


def test_options_are_checked():
    with pytest.raises(ValueError, match=r"epsilon 1.5 is outside \[0, 1\]"):
        FgsmConfig(epsilons=[0.1, 1.5])
    with pytest.raises(ValueError, match="repeat"):
        PgdConfig(epsilons=[0.1, 0.1])
    with pytest.raises(ValueError, match="outside"):
        PgdConfig(norm="l2", epsilons=[-0.5])
    assert PgdConfig(norm="l2", epsilons=[3.0, 1.5]).epsilons == [1.5, 3.0]  # L2 radii may pass 1; sorted.
    with pytest.raises(ValueError, match="exceeds sqrt"):
        base.check_l2_epsilons([30.0], (28, 28, 1), "attacks.pgd_l2.epsilons")


def test_unrolled_and_while_loop_pgd_agree(monkeypatch):
    """Short step loops are unrolled into the graph, long ones are a tf.while_loop: same images."""
    model = tiny.trained_cnn()
    x, y = tiny.images(8, seed=5)
    results = []
    for unroll_max in (100, 0):
        monkeypatch.setattr(base, "UNROLL_MAX", unroll_max)
        assert isinstance(base.loop_range(4), range) == (unroll_max >= 4)
        attack = pgd(PgdConfig(epsilons=[0.1], iterations=4, random_start=True))
        results.append(attack(model, x, y, epsilon=0.1, seed=(2, 3)).numpy())
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
