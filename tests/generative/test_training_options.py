"""Generative training options the README lists: likelihood: gaussian (with likelihood_scale) reaches
the model, and train.lr_warmup_epochs the optimizer's rate, per step."""

import numpy as np
import pytest

from robustkit import train
from robustkit.data.pairs import Pairs
from robustkit.generative import loop


def _pairs(n=6):
    x = np.random.default_rng(0).integers(0, 256, size=(n, 28, 28, 1), dtype=np.uint8)
    return Pairs(x, x, np.zeros(n, np.int64), "train", ["a"])


@pytest.mark.parametrize("task", ["vae", "cvae"])
def test_gaussian_likelihood_and_lr_warmup_reach_the_model(task):
    job, _ = train.load_job(None, [f"task={task}", "model.likelihood=gaussian", "model.likelihood_scale=0.2",
                                   "model.latent_dim=2", "train.learning_rate=0.01", "train.lr_warmup_epochs=2"])
    model = loop._build(job, _pairs(), steps_per_epoch=5)
    # lr_warmup_epochs 2 of 5 steps: the rate rises linearly over 10 steps, (step + 1) / 10 of the peak.
    rate = model.optimizer._learning_rate  # The schedule itself (tf-keras's public property is its value now).
    np.testing.assert_allclose([float(rate(s)) for s in (0, 4, 9, 30)], [0.001, 0.005, 0.01, 0.01], rtol=1e-6)
    # -log p(x | z) is the Gaussian's of scale 0.2 around the decoded mean, pixel by pixel.
    x = np.random.default_rng(1).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    z = np.random.default_rng(2).normal(size=(3, 2)).astype(np.float32)
    if task == "vae":
        distribution, mean = model.decode(z), model.decode_mean(z).numpy()
    else:
        distribution, mean = model.decode(x, z), model.generate(x, z).numpy()
    by_hand = (-0.5 * ((x - mean) / 0.2) ** 2 - np.log(0.2) - 0.5 * np.log(2 * np.pi)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(distribution.log_prob(x).numpy(), by_hand, rtol=1e-5)
