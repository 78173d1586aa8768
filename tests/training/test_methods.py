"""PGD adversarial training, TRADES and fast AT: first-step losses by hand, the start, the config checks."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit.training import methods
from robustkit.training.adversarial_config import AdversarialConfig
from robustkit.training.config import TrainJob

EPS = 0.1
# Two classes, four pixels, away from 0 and 1 so that no clipping to [0, 1] happens.
X = np.array([[0.3, 0.5, 0.6, 0.4], [0.7, 0.4, 0.5, 0.6], [0.5, 0.5, 0.3, 0.7], [0.4, 0.6, 0.5, 0.5]], "float32")
Y = np.array([0, 1, 1, 0], "int64")
W = np.array([[0.8, -0.5], [-1.2, 0.7], [0.3, 0.9], [-0.4, -1.1]], "float32")
B = np.array([0.1, -0.1], "float32")


def _linear():
    image = keras.Input((4,), name="image")
    model = keras.Model(image, keras.layers.Dense(2)(image))
    model.set_weights([W, B])
    return model


def _ce(x):
    logits = x @ W + B
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(Y)), Y].mean()


def _kl(x, x2):
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    p, q = log_softmax(x @ W + B), log_softmax(x2 @ W + B)
    return (np.exp(p) * (p - q)).sum(axis=1).mean()


def _worst(x, labels):
    """The L-inf worst case of a two-class linear model: every pixel eps against the label's logit."""
    towards_other = np.where(labels[:, None] == 0, W[:, 1] - W[:, 0], W[:, 0] - W[:, 1])
    return x + EPS * np.sign(towards_other)


def _first_step_loss(**options):
    options = AdversarialConfig(enabled=True, epsilon=EPS, **options)
    trainer = methods.RobustTrainer(_linear(), options, seed=5)
    trainer.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    logs = trainer.fit({"image": X}, Y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    return logs


def _step_seed(seed=5):
    """The trainer's seed at step 0 on replica 0."""
    return tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), 0)


@pytest.mark.parametrize("clean_weight", [0.0, 0.3])
def test_pgd_first_step_loss_is_the_loss_at_the_worst_case(clean_weight):
    logs = _first_step_loss(method="pgd", iterations=3, random_start=False, clean_weight=clean_weight)
    expected = clean_weight * _ce(X) + (1 - clean_weight) * _ce(_worst(X, Y))
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert set(logs) == {"loss", "accuracy", "adversarial_accuracy"}


def test_fast_first_step_loss_from_its_random_start():
    logs = _first_step_loss(method="fast")
    start = tf.random.stateless_uniform(X.shape, _step_seed(), -1.0, 1.0).numpy() * EPS
    towards_other = _worst(X, Y) - X
    # One step of 1.25 eps along the gradient sign from the start, clipped back onto the ball.
    adversarial = X + np.clip(start + 1.25 * towards_other, -EPS, EPS)
    assert logs["loss"][0] == pytest.approx(_ce(adversarial), rel=1e-5)
    # Without a random start, the 1.25 eps step is clipped to exactly eps: FGSM.
    logs = _first_step_loss(method="fast", random_start=False)
    assert logs["loss"][0] == pytest.approx(_ce(_worst(X, Y)), rel=1e-5)


def test_trades_first_step_loss_is_ce_plus_beta_kl():
    beta = 2.0
    logs = _first_step_loss(method="trades", iterations=4, beta=beta)
    # From x + 0.001 N(0, 1) the KL grows along +-(w1 - w0), on the side the start points to.
    noise = 0.001 * tf.random.stateless_normal(X.shape, _step_seed()).numpy()
    side = np.sign(noise @ (W[:, 1] - W[:, 0]))
    adversarial = X + EPS * side[:, None] * np.sign(W[:, 1] - W[:, 0])[None, :]
    expected = _ce(X) + beta * _kl(X, adversarial)
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert logs["kl"][0] == pytest.approx(_kl(X, adversarial), rel=1e-5)


def test_trades_kl_is_zero_when_the_neighbour_is_the_image():
    logits = tf.constant([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    np.testing.assert_allclose(methods.kl_divergence(logits, logits).numpy(), 0.0, atol=1e-7)
    assert float(tf.reduce_min(methods.kl_divergence(logits, logits[::-1]))) > 0.1


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_the_random_start_lies_in_the_ball_and_varies(norm):
    shape = tf.constant([64, 28, 28, 1])
    start = methods.random_start(shape, tf.constant(0.1), norm, tf.constant([1, 2], tf.int64)).numpy()
    flat = start.reshape(64, -1)
    size = np.abs(flat).max(axis=1) if norm == "linf" else np.sqrt((flat ** 2).sum(axis=1))
    assert size.max() <= 0.1 + 1e-6
    assert size.min() > (0.09 if norm == "linf" else 0.05), "the draws fill the ball, not a point"
    assert np.abs(flat[0] - flat[1]).mean() > 0.01 * (1 if norm == "linf" else 28 ** -1), "examples draw anew"


def test_epsilon_warms_up_linearly_from_zero():
    options = AdversarialConfig(enabled=True, method="pgd", epsilon=0.2)
    trainer = methods.RobustTrainer(_linear(), options, warmup_steps=4)
    trainer.compile(keras.optimizers.SGD(0.0), "mse")
    seen = []
    for step in range(6):
        trainer.optimizer.iterations.assign(step)
        seen.append(float(trainer.epsilon_now()))
    np.testing.assert_allclose(seen, [0.0, 0.05, 0.1, 0.15, 0.2, 0.2], atol=1e-7)


def test_method_defaults_and_refusals():
    assert AdversarialConfig(enabled=True, method="pgd", epsilon=0.1).step_size == pytest.approx(0.025)
    fast = AdversarialConfig(enabled=True, method="fast", epsilon=0.1)
    assert (fast.step_size, fast.attack_mode, fast.guard, fast.norm) == (pytest.approx(0.125), "train", True, "linf")
    assert AdversarialConfig(enabled=True, method="trades", epsilon=0.1).attack_mode == "eval"
    nsl = AdversarialConfig(enabled=True)
    assert (nsl.norm, nsl.step_size, nsl.epsilon, nsl.radius) == ("linf", 0.05, None, 0.05)
    cases = [
        ({"adversarial": {"enabled": True, "method": "madry"}}, "expected one of 'nsl', 'pgd', 'trades', 'fast'"),
        ({"adversarial": {"enabled": True, "method": "pgd"}}, "needs adversarial.epsilon"),
        ({"adversarial": {"method": "pgd", "epsilon": 0.1}}, "needs adversarial.enabled = true"),
        ({"adversarial": {"enabled": True, "method": "pgd", "epsilon": 0.1, "multiplier": 0.5}},
         "multiplier = 0.5 has no meaning for adversarial.method = pgd"),
        ({"adversarial": {"enabled": True, "beta": 3.0}}, "beta = 3.0 has no meaning for adversarial.method = nsl"),
        ({"adversarial": {"enabled": True, "method": "trades", "epsilon": 0.1, "norm": "l1"}},
         "expected linf or l2"),
        ({"adversarial": {"enabled": True, "method": "trades", "epsilon": 0.1, "random_start": False}},
         "gradient is zero"),
        ({"adversarial": {"enabled": True, "method": "fast", "epsilon": 0.1, "iterations": 3}}, "fast takes one step"),
        ({"adversarial": {"enabled": True, "attack_mode": "eval"}}, "not available with method nsl"),
        ({"adversarial": {"enabled": True, "method": "trades", "epsilon": 0.1},
          "learned_set": {"mode": "adversarial", "path": "x"}}, r"method trades\) and learned_set.mode"),
        ({"adversarial": {"enabled": True, "method": "pgd", "epsilon": 0.1, "epsilon_warmup_epochs": 3},
          "train": {"epochs": 3}}, "leaves no epoch at the full epsilon"),
        ({"train": {"schedule": {"name": "cyclic"}, "phases": [{"trainable": "all"}]}},
         "cyclic cannot be combined with train.phases"),
    ]
    for sections, pattern in cases:
        with pytest.raises(config_lib.ConfigError, match=pattern):
            config_lib.parse(TrainJob, sections)


def test_the_resolved_config_names_the_method(tmp_path):
    job = config_lib.parse(TrainJob, {"adversarial": {"enabled": True, "method": "trades", "epsilon": 0.1}})
    config_lib.save(job, str(tmp_path / "config.yaml"))
    text = (tmp_path / "config.yaml").read_text()
    assert "method: trades" in text and "beta: 6.0" in text and "attack_mode: eval" in text
    again = config_lib.load(TrainJob, str(tmp_path / "config.yaml"))
    assert again.adversarial == job.adversarial


@pytest.mark.parametrize("name,method", [("fashion_mnist_small_cnn_pgd", "pgd"),
                                         ("fashion_mnist_small_cnn_trades", "trades"),
                                         ("fashion_mnist_small_cnn_fast", "fast"),
                                         ("tiny_imagenet_mobilenetv2_trades", "trades")])
def test_the_method_configs_load(name, method):
    import os

    from tests import helpers

    path = os.path.join(helpers.ROOT, "configs", f"{name}.yaml")
    assert open(path).readline().strip() == f"# python -m robustkit.train --config configs/{name}.yaml"
    job = config_lib.load(TrainJob, path)
    assert job.adversarial.enabled and job.adversarial.method == method
    expected = 4 / 255 if name.startswith("tiny") else 0.1
    assert job.adversarial.epsilon == pytest.approx(expected, rel=1e-6) and job.adversarial.norm == "linf"
