"""The perturbation-set API: the latent ball, sampling, and the worst case for a classifier."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from robustkit.generative import perturbation
from robustkit.generative.config import MODELS, FcCVAEConfig
from robustkit.generative.perturbation import PerturbationSet

RNG = np.random.default_rng(0)
X = RNG.random((8, 28, 28, 1)).astype(np.float32) * 0.5
Y = np.arange(8) % 3


def test_project_and_sample_ball():
    u = tf.constant([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(perturbation.project(u, 1.0).numpy(), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], atol=1e-6)
    points = perturbation.sample_ball([4000, 3], 2.0, seed=(1, 2)).numpy()
    norms = np.linalg.norm(points, axis=-1)
    assert norms.max() <= 2.0 + 1e-5
    assert np.mean(norms <= 1.0) == pytest.approx(1 / 8, abs=0.02), "uniform in the ball: (1/2)^3 of it within r/2"
    np.testing.assert_array_equal(points, perturbation.sample_ball([4000, 3], 2.0, seed=(1, 2)).numpy())


def test_latent_pgd_finds_the_known_maximum():
    target = tf.constant([[3.0, 0.0, 4.0], [0.1, 0.2, 0.0]])

    def closeness(u):
        return -tf.reduce_sum(tf.square(u - target), axis=-1)

    best = perturbation.latent_pgd(closeness, tf.zeros([2, 3]), radius=1.0, steps=40, step_size=0.1).numpy()
    np.testing.assert_allclose(best[0], [0.6, 0.0, 0.8], atol=0.03)
    np.testing.assert_allclose(best[1], [0.1, 0.2, 0.0], atol=0.06)


def _shift_set():
    """x + u * pattern: u = 0 gives the clean images; the prior is N(0, 1) in one dimension."""
    pattern = tf.constant(np.linspace(-0.5, 0.5, 784, dtype=np.float32).reshape(1, 28, 28, 1))

    def prior(images):
        batch = tf.shape(images)[0]
        return tf.zeros([batch, 1]), tf.ones([batch, 1])

    def generator(images, z):
        return tf.clip_by_value(images + z[:, :, None, None] * pattern, 0.0, 1.0)

    return PerturbationSet(prior, generator, latent_dim=1)


def _classifier():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.layers.Flatten(input_shape=(28, 28, 1)), keras.layers.Dense(3)])


def _loss(classifier, images):
    return keras.losses.sparse_categorical_crossentropy(Y, classifier(images), from_logits=True).numpy()


def test_worst_case_raises_the_loss_above_clean_and_random_draws():
    pset, classifier = _shift_set(), _classifier()
    worst = perturbation.worst_case_images(classifier, X, Y, pset, radius=1.0, steps=5)
    clean = _loss(classifier, X)
    assert (_loss(classifier, worst) >= clean - 1e-6).all() and _loss(classifier, worst).mean() > clean.mean()
    draws = pset.sample(X, 16, 1.0, seed=(4, 4)).numpy()
    random_best = np.max([_loss(classifier, d) for d in draws], axis=0)
    assert (_loss(classifier, worst) >= random_best - 1e-4).all(), "PGD beats the best of 16 random draws"
    _, u = pset.worst_case(lambda images: classifier(images), X, Y, radius=1.0, steps=5)
    assert np.abs(u.numpy()).max() <= 1.0 + 1e-6


def test_worst_case_in_a_graph():
    pset, classifier = _shift_set(), _classifier()

    @tf.function
    def attack(images, labels):
        return perturbation.worst_case_images(classifier, images, labels, pset, radius=0.5, steps=3)

    eager = perturbation.worst_case_images(classifier, X, Y, pset, radius=0.5, steps=3)
    np.testing.assert_allclose(attack(tf.constant(X), tf.constant(Y)).numpy(), eager.numpy(), atol=1e-5)
    bound = perturbation.make_attack(pset, radius=0.5, steps=3)
    np.testing.assert_allclose(bound(classifier, X, Y).numpy(), eager.numpy(), atol=1e-6)


def test_samples_of_a_cvae_lie_in_its_set():
    cvae = MODELS.build(FcCVAEConfig(latent_dim=2, hidden=[16]))
    cvae({"image": X, "perturbed": X})
    pset = PerturbationSet.from_model(cvae)
    drawn = pset.sample(X, 3, 0.7, seed=(9, 1)).numpy()
    assert drawn.shape == (3, 8, 28, 28, 1)
    u = perturbation.sample_ball(tf.stack([3 * 8, 2]), 0.7, (9, 1))
    assert np.linalg.norm(u.numpy(), axis=-1).max() <= 0.7 + 1e-6
    expected = pset.perturb(tf.tile(X, [3, 1, 1, 1]), u).numpy().reshape(drawn.shape)
    np.testing.assert_allclose(drawn, expected, atol=1e-6)
    augmented = perturbation.random_perturbation(pset, X, 0.7, seed=(9, 1)).numpy()
    assert augmented.shape == X.shape
    worst = perturbation.worst_case_images(_classifier(), X, Y, pset, radius=2.0, steps=3)
    at_prior_mean = pset.perturb(X, tf.zeros([8, 2]))
    assert _loss(_classifier(), worst).mean() >= _loss(_classifier(), at_prior_mean).mean() - 1e-6


def test_loading_something_else_fails_clearly(tmp_path):
    with pytest.raises(perturbation.PerturbationSetError, match="path '.*absent' does not exist; pass the CVAE"):
        perturbation.load_perturbation_set(str(tmp_path / "absent"))
    with pytest.raises(perturbation.PerturbationSetError, match="holds no saved_model.pb and no numbered versions"):
        perturbation.load_perturbation_set(str(tmp_path))
