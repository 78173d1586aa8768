"""The ``nsl`` attack is NSL's own neighbour: equal to ``perturb_on_batch``, but compiled."""

import numpy as np
import pytest

from robustkit.attacks.nsl import NslAttackConfig, adversarial_config, nsl_attack
from robustkit.training import adversarial
from tests.attacks import tiny


@pytest.mark.parametrize("norm, eps, iterations", [("linf", 0.1, 1), ("l2", 1.0, 1), ("linf", 0.2, 3)])
def test_nsl_attack_equals_nsl_perturb_on_batch(norm, eps, iterations):
    model = tiny.trained_cnn()
    x, y = tiny.images(16, seed=10)
    options = NslAttackConfig(norm=norm, epsilons=[0.05, eps], pgd_iterations=iterations)
    ours = nsl_attack(options)(model, x, y, epsilon=eps).numpy()
    theirs = adversarial.perturb_on_batch_fn(model, adversarial_config(options, eps))(x, y)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert ours.min() >= 0.0 and ours.max() <= 1.0
    assert np.abs(ours - x).max() > 0


@pytest.mark.parametrize("norm, nsl_name", [("linf", "infinity"), ("l2", "l2")])
def test_the_attack_speaks_linf_and_nsl_gets_its_own_name(norm, nsl_name):
    options = adversarial_config(NslAttackConfig(norm=norm, epsilons=[0.1]), 0.1)
    assert options.norm == norm
    assert adversarial.nsl_config(options).adv_neighbor_config.adv_grad_norm.value == nsl_name


def test_one_compiled_function_serves_the_whole_sweep():
    model = tiny.trained_cnn()
    x, y = tiny.images(8, seed=11)
    attack = nsl_attack(NslAttackConfig(epsilons=[0.05, 0.1, 0.2]))
    for eps in (0.05, 0.1, 0.2):
        moved = np.abs(attack(model, x, y, epsilon=eps).numpy() - x).max()
        np.testing.assert_allclose(moved, eps, atol=1e-6)
    neighbour = next(iter(attack._neighbours.values()))[1]
    assert neighbour.experimental_get_tracing_count() == 1


def test_random_init_pgd_stays_in_the_ball():
    model = tiny.trained_cnn()
    x, y = tiny.images(8, seed=12)
    attack = nsl_attack(NslAttackConfig(epsilons=[0.1], pgd_iterations=3, random_init=True))
    adv = attack(model, x, y, epsilon=0.1).numpy()
    assert np.abs(adv - x).max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
