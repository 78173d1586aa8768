"""Agreement with an independent implementation: ART 1.20's AutoProjectedGradientDescent and SquareAttack.

The same small CNN (trained here for 300 steps on real Fashion-MNIST) and the same 500 test images: robust
accuracy within 1.5 points for APGD-CE and APGD-DLR, within 3 points for Square at equal queries. Settings are
the reference's except the iteration and query counts, cut so the test stays near a minute on 2 cores: the
two implementations run the same number of steps, so the comparison holds as it would at 100. Also: our
APGD-CE is at least as strong as our PGD-10 on these images. ART is a dev dependency; robustkit never imports it.
"""

import logging
import os

import numpy as np
import pytest
import tf_keras as keras

from robustkit.attacks.apgd_attack import ApgdConfig, apgd
from robustkit.attacks.gradient import PgdConfig, pgd
from robustkit.attacks.square_attack import SquareConfig, square
from robustkit.data.idx import read_idx_split
from robustkit.models.small_cnn import SmallCNNConfig, build

FASHION_DIR = os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
EPSILON = 0.03  # Where the CNN's robust accuracy is far from 0 and 1, so the comparison means something.
ITERATIONS = 25
QUERIES = 300

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason=f"{FASHION_DIR} absent (set $FASHION_MNIST_DIR, or "
                       "apt-get install dataset-fashion-mnist)"),
]
art = pytest.importorskip("art", reason="adversarial-robustness-toolbox (the dev extra) is not installed")


@pytest.fixture(scope="module")
def setup():
    from art.estimators.classification import TensorFlowV2Classifier

    logging.getLogger("art").setLevel(logging.WARNING)
    x_train, y_train = read_idx_split(FASHION_DIR, "train")
    x_test, y_test = read_idx_split(FASHION_DIR, "t10k")
    scale = lambda x: (x.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)  # noqa: E731
    keras.utils.set_random_seed(0)
    model = build(SmallCNNConfig(), 10, 1)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(scale(x_train[:19200]), y_train[:19200].astype(np.int64), epochs=1, batch_size=64, verbose=0)
    x, y = scale(x_test[:500]), y_test[:500].astype(np.int64)
    classifier = TensorFlowV2Classifier(model=model, nb_classes=10, input_shape=(28, 28, 1), clip_values=(0.0, 1.0),
                                        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, classifier, x, y


def _accuracy(model, images, labels):
    return float(np.mean(np.argmax(model.predict(images, batch_size=500, verbose=0), -1) == labels))


@pytest.mark.parametrize("loss, art_loss", [("ce", "cross_entropy"), ("dlr", "difference_logits_ratio")])
def test_apgd_agrees_with_art_within_one_and_a_half_points(setup, loss, art_loss):
    from art.attacks.evasion import AutoProjectedGradientDescent

    model, classifier, x, y = setup
    clean = _accuracy(model, x, y)
    ours = _accuracy(model, apgd(ApgdConfig(loss=loss, iterations=ITERATIONS, epsilons=[EPSILON]))(
        model, x, y, epsilon=EPSILON, seed=(0, 1)).numpy(), y)
    reference = AutoProjectedGradientDescent(classifier, norm=np.inf, eps=EPSILON, eps_step=2 * EPSILON,
                                             max_iter=ITERATIONS, nb_random_init=1, batch_size=500,
                                             loss_type=art_loss, verbose=False)
    theirs = _accuracy(model, reference.generate(x, y=np.eye(10)[y]), y)
    assert 0.2 < theirs < clean - 0.1, "the radius must leave the comparison room on both sides"
    assert abs(ours - theirs) <= 0.015, (loss, clean, ours, theirs)
    if loss == "ce":
        pgd10 = _accuracy(model, pgd(PgdConfig(iterations=10))(model, x, y, epsilon=EPSILON, seed=(0, 1)).numpy(), y)
        assert ours <= pgd10, (ours, pgd10)


def test_square_agrees_with_art_within_three_points_at_equal_queries(setup):
    from art.attacks.evasion import SquareAttack

    model, classifier, x, y = setup
    # ART queries the start and then once per iteration: QUERIES + 1 each, as ours with queries = QUERIES + 1;
    # ART scales the p schedule to its budget, as the paper does (rescale_schedule).
    ours = _accuracy(model, square(SquareConfig(queries=QUERIES + 1, rescale_schedule=True, epsilons=[EPSILON]))(
        model, x, y, epsilon=EPSILON, seed=(0, 1)).numpy(), y)
    reference = SquareAttack(classifier, norm=np.inf, eps=EPSILON, max_iter=QUERIES, nb_restarts=1, batch_size=500,
                             verbose=False)
    theirs = _accuracy(model, reference.generate(x, y=np.eye(10)[y]), y)
    assert theirs < _accuracy(model, x, y) - 0.05
    assert abs(ours - theirs) <= 0.03, (ours, theirs)
