"""L-BFGS (Szegedy et al.): finds the target on a linear model; a larger c gives a smaller perturbation."""

import numpy as np

from robustkit.attacks.lbfgs import LbfgsConfig, lbfgs
from tests.attacks import tiny


def _data(model):
    """Images in the interior, labelled as the model classifies them."""
    x = np.random.default_rng(0).uniform(0.2, 0.8, size=(8, 4, 4, 1)).astype("float32")
    return x, np.argmax(model(x).numpy(), axis=-1)


def test_the_search_over_c_reaches_every_target_of_a_linear_model():
    model = tiny.linear_model(seed=2)
    x, y = _data(model)
    attack = lbfgs(LbfgsConfig(targeted="least_likely", search_steps=5, iterations=50))
    adv = attack(model, x, y, seed=(0, 1)).numpy()
    targets = attack.targets(model, x, y, seed=(0, 1)).numpy()
    np.testing.assert_array_equal(np.argmax(model(adv).numpy(), axis=-1), targets)
    assert np.all(targets != y)
    assert adv.min() >= 0.0 and adv.max() <= 1.0


def test_a_larger_c_gives_a_smaller_perturbation():
    model = tiny.linear_model(seed=2)
    x, y = _data(model)
    norms = []
    for c in (0.01, 1.0):
        attack = lbfgs(LbfgsConfig(targeted="least_likely", c_init=c, search_steps=1, iterations=100))
        delta = attack(model, x, y, seed=(0, 1)).numpy() - x
        norms.append(np.linalg.norm(delta.reshape(len(x), -1), axis=1))
    assert np.all(norms[1] < norms[0])
    assert np.all(norms[1] > 0)


def test_the_search_keeps_the_smallest_successful_perturbation():
    model = tiny.linear_model(seed=2)
    x, y = _data(model)
    one = lbfgs(LbfgsConfig(targeted="least_likely", c_init=0.01, search_steps=1, iterations=100))
    searched = lbfgs(LbfgsConfig(targeted="least_likely", c_init=0.01, search_steps=6, iterations=100))
    small = np.linalg.norm((searched(model, x, y).numpy() - x).reshape(8, -1), axis=1)
    large = np.linalg.norm((one(model, x, y).numpy() - x).reshape(8, -1), axis=1)
    assert np.all(small <= large + 1e-6) and np.mean(small) < np.mean(large)
