"""validate_adv's engine under tf.distribute: the same results on one device and on two logical CPUs."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

import robustkit
from robustkit import config as config_lib
from robustkit.evaluation.config import ValidateJob
from robustkit.replicas import BatchMap
from robustkit.sections import DistributeConfig
from robustkit import distribute
from tests import helpers

TWO_CPUS = {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]}
ATTACKS = {
    "fgsm": {"epsilons": [0.05, 0.1]},
    "pgd": {"epsilons": [0.1], "iterations": 3, "random_start": True},
    "pgd_targeted": {"name": "pgd", "epsilons": [0.1], "iterations": 3, "targeted": "random"},
    "noise": {"epsilons": [0.2]},
}


def _model_and_data():
    images, labels = helpers.learnable_images(70, num_classes=4, size=12, seed=3)
    images = images[..., None].astype(np.float32) / 255.0
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Flatten(), keras.layers.Dense(4)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels.astype(np.int64), epochs=3, batch_size=16, verbose=0)
    return model, images, labels.astype(np.int64)


def test_one_device_and_two_logical_cpus_give_identical_results():
    model, images, labels = _model_and_data()
    runs = {}
    for name, strategy in (("one", {"strategy": "default"}), ("two", TWO_CPUS)):
        runs[name] = robustkit.evaluate({"m": model}, images, labels, ATTACKS, batch_size=16, run={"seed": 5},
                                        sanity={"examples": 40, "large_epsilon_iterations": 3},
                                        distribute=strategy)
    one, two = runs["one"], runs["two"]
    assert [(r.attack, r.epsilon, r.accuracy, r.mean_linf, r.target_hit_rate) for r in one.rows] == \
           [(r.attack, r.epsilon, r.accuracy, r.mean_linf, r.target_hit_rate) for r in two.rows]
    assert one.correct.keys() == two.correct.keys()
    for key in one.correct:
        np.testing.assert_array_equal(one.correct[key], two.correct[key])
    np.testing.assert_array_equal(one.clean["m"], two.clean["m"])
    assert one.gradients == two.gradients and one.large_epsilon == two.large_epsilon
    # The attacks did something, so the equality says something.
    assert one.accuracy("m", "pgd", 0.1) < one.clean_accuracy("m")


def test_batches_are_shared_by_both_replicas_and_come_back_in_order():
    strategy = distribute.make_strategy(DistributeConfig(**TWO_CPUS))
    seen = []

    def fn(x):
        seen.append(int(tf.distribute.get_replica_context().replica_id_in_sync_group))
        return x * 2

    batches = [(np.full([3 if i < 4 else 1], i, np.float32),) for i in range(5)]  # 5 batches: the last group is short
    out = BatchMap(strategy)(fn, batches)
    assert [o.tolist() for o in out] == [[2.0 * i] * (3 if i < 4 else 1) for i in range(5)]
    assert sorted(set(seen)) == [0, 1]


def test_the_config_accepts_a_strategy():
    job = config_lib.parse(ValidateJob, {"distribute": {"strategy": "mirrored"}, "attacks": {"fgsm": {}}})
    assert job.distribute.strategy == "mirrored"
