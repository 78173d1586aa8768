"""The AutoAttack cascade: the reference's versions, stage by stage on the survivors, the per-example worst case."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit import config as config_lib
from robustkit.attacks import ATTACKS, base
from robustkit.attacks.autoattack_cascade import AutoAttackConfig, autoattack, stage_attacks
from tests.attacks import tiny


def test_versions_run_the_reference_stages():
    standard = stage_attacks(AutoAttackConfig())
    assert [name for name, _ in standard] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert standard[1][1].options.targeted and standard[1][1].options.n_target_classes == 9
    assert standard[2][1].options.targeted and standard[3][1].options.queries == 5000
    assert all(a.options.restarts == 1 for _, a in standard[:3])
    plus = stage_attacks(AutoAttackConfig(version="plus"))
    assert [name for name, _ in plus] == ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"]
    assert [a.options.restarts for _, a in plus[:3]] == [5, 5, 5] and not plus[2][1].options.targeted
    rand = stage_attacks(AutoAttackConfig(version="rand", norm="l2", epsilons=[0.5]))
    assert [name for name, _ in rand] == ["apgd-ce", "apgd-dlr"]
    assert all(a.options.eot_iter == 20 and a.norm == "l2" for _, a in rand)


def test_unknown_versions_and_keys_are_refused_naming_them():
    with pytest.raises(config_lib.ConfigError, match="version"):
        config_lib.parse(ATTACKS.options("autoattack"), {"name": "autoattack", "version": "fast"})
    with pytest.raises(config_lib.ConfigError, match="square_querys"):
        config_lib.parse(ATTACKS.options("autoattack"), {"name": "autoattack", "square_querys": 10})


def test_each_stage_attacks_only_the_survivors_and_accuracy_never_rises():
    model = tiny.trained_cnn()
    x, y = tiny.images(48, seed=11)
    # 30 iterations: loops of more than 20 steps are not unrolled, which traces much faster.
    attack = autoattack(AutoAttackConfig(epsilons=[0.32], iterations=30, square_queries=40, n_target_classes=3))
    result = attack.run(model, x, y, 0.32, seed=(0, 1), batch_size=16)
    accuracies = [s["accuracy"] for s in result.stages]
    assert [s["stage"] for s in result.stages] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] < np.mean(result.clean)
    survivors = int(result.clean.sum())
    for stage in result.stages:  # A stage attacks exactly the examples every earlier stage left.
        assert stage["examples"] == survivors
        survivors -= stage["fooled"]
    assert survivors == int(result.robust.sum()) and accuracies[-1] == np.mean(result.robust)
    predicted = np.argmax(model(result.adversarial).numpy(), -1)
    np.testing.assert_array_equal(predicted == y, result.robust)  # The worst case per example, as returned.
    assert set(result.fooled_by[~result.robust]) <= {"clean", "apgd-ce", "apgd-t", "fab-t", "square"}
    size = base.per_example_norm(tf.constant(result.adversarial - x), "linf").numpy()
    assert size.max() <= 0.32 + 1e-6 and result.adversarial.min() >= 0 and result.adversarial.max() <= 1
