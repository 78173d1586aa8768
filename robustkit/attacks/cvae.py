"""The worst case inside a learned perturbation set: ``cvae``.

Wong & Kolter (2020), "Learning perturbation sets for robust machine learning":
a CVAE trained on (clean, perturbed) pairs defines, for each image x, the set
{g(x, mu_p(x) + sigma_p(x) u) : ||u||_2 <= epsilon} of perturbations like the
ones it was trained on (rotations, blur, fog, ...). The attack runs PGD on the
normalised latent code u to find the member of that set the model gets most
wrong (`robustkit.generative.perturbation`).

``epsilons`` are radii of the latent ball in units of the prior's standard
deviation, not pixel distances: the set's coverage table (``metrics.json`` of
the CVAE run) says which radius holds which share of real perturbations. The
adversarial images are the generator's, so even radius 0 differs from the
input by the generator's reconstruction error; the attack therefore skips no
radius, and radius 0 measures the model on the set's own reconstructions.

When the models take images of another size or channel count than the set was
trained on (a 32x32 RGB classifier, a 28x28 grey set), images are resized and
converted on the way in and out of the set (`PerturbationSet.for_shape`).
"""

import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.options import CvaeAttackConfig


class CvaeAttack(base.Attack):
    """PGD over the latent code of a learned perturbation set."""

    norm = "latent"
    zero_is_clean = False  # Radius 0 is the generator's image of the prior mean.

    def __init__(self, options: CvaeAttackConfig):
        from robustkit.generative.perturbation import load_perturbation_set

        super().__init__(options)
        self.perturbation_set = load_perturbation_set(options.path)  # Fails now on a bad path.

    def describe(self) -> str:
        start = ", random start" if self.options.random_start else ""
        return f"cvae (latent ball, {self.options.iterations} iterations{start})"

    def generate(self, model, images, labels, epsilon, seed):
        fn = self.compiled(model, self._build(images.shape[1:]),
                           [base.batch_spec(images), base.batch_spec(labels), base.SCALAR, base.SEED])
        return fn(images, labels, tf.constant(epsilon, tf.float32), base.seed_tensor(seed))

    def _build(self, shape):
        options = self.options
        pset = self.perturbation_set.for_shape(shape)

        def build(logits_of):
            def attack(images, labels, radius, seed):
                perturbed, _ = pset.worst_case(logits_of, images, labels, radius, steps=options.iterations,
                                               step_size=options.step_size, random_start=options.random_start,
                                               seed=seed)
                return tf.clip_by_value(perturbed, 0.0, 1.0)

            return attack

        return build


def cvae(options: CvaeAttackConfig) -> CvaeAttack:
    return CvaeAttack(options)
