"""Every registered attack: built from its defaults, batched, in [0, 1], seeded, within its radius."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit import config as config_lib
from robustkit.attacks import ATTACKS, base, build_attack
from robustkit.registry import RegistryError
from tests.attacks import tiny

QUICK = {  # Small settings so that the slow attacks stay fast here.
    "lbfgs": {"search_steps": 2, "iterations": 5},
    "iaa": {"max_iterations": 5},
    "pgd": {"iterations": 3},
    "transfer": {"iterations": 3, "surrogate": "m"},
    # Loops of more than 20 steps stay tf.while_loops, which trace far faster than unrolled ones.
    "apgd": {"iterations": 21},
    "fab": {"iterations": 21},
    "square": {"queries": 50},
    "autoattack": {"iterations": 21, "square_queries": 20, "n_target_classes": 2},
}


def test_the_registry_lists_every_attack_and_rejects_unknown_names():
    assert ATTACKS.names() == ["apgd", "autoattack", "cvae", "fab", "fgm", "fgsm", "iaa", "lbfgs", "noise", "nsl",
                               "pgd", "square", "transfer"]
    with pytest.raises(RegistryError, match="unknown attack 'cw'; known attacks: apgd, autoattack, cvae, fab"):
        ATTACKS.get("cw")


# ``cvae`` needs a trained set and measures radii in its latent space, not in pixels: tests/attacks/test_cvae.py.
@pytest.mark.parametrize("name", [n for n in ATTACKS.names() if n != "cvae"])
def test_every_attack_keeps_images_in_the_box_and_the_ball(name):
    options = config_lib.parse(ATTACKS.options(name), {"name": name, **QUICK.get(name, {})})
    attack = build_attack(options)
    model = tiny.trained_cnn()
    x, y = tiny.images(10, seed=7)
    epsilon = attack.epsilons[-1]
    adv = attack(model, x, y, epsilon=epsilon, seed=(3, 4))
    assert isinstance(adv, tf.Tensor) and adv.dtype == tf.float32 and adv.shape == x.shape
    adv = adv.numpy()
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    if attack.norm is not None:
        size = base.per_example_norm(tf.constant(adv - x), attack.norm).numpy()
        assert size.max() <= epsilon * (1 + 1e-5)
        np.testing.assert_array_equal(attack(model, x, y, epsilon=0.0).numpy(), x)
    np.testing.assert_array_equal(attack(model, x, y, epsilon=epsilon, seed=(3, 4)).numpy(), adv)
    assert attack.describe().startswith(name)
    assert isinstance(attack.measures(x, adv), dict)
