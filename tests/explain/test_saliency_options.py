"""explain's saliency options: ``target``, ``top_k`` and ``adversarial``, on a linear model with known maps."""

import types

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit import config as config_lib  # noqa: E402
from robustkit.explain import plots, runner  # noqa: E402
from robustkit.explain.config import ExplainJob  # noqa: E402
from robustkit.explain.saliency import build_explainer  # noqa: E402
from tests.explain import tiny_models  # noqa: E402


def _job(*overrides):
    return config_lib.load(ExplainJob, None, ["methods={vanilla: {name: vanilla}}", *overrides])


def _saliency(job, with_attack=True):
    """Runs the runner's saliency step on a linear model: a vanilla map is the target's weight row."""
    model = tiny_models.linear()
    x = tiny_models.images(6, (4, 4, 1), seed=1)
    probs = model(x).numpy()  # Any rows will do: the target is their argmax (or the label).
    predicted = probs.argmax(axis=1)
    labels = (predicted + 1) % 3  # Every label differs from the prediction.
    m = types.SimpleNamespace(name="m", model=model, keras_model=model, logits=model)
    out = runner.ModelResults(model=m, probs=probs)
    if with_attack:
        adv = np.clip(x[::-1] + 0.1, 0, 1)
        out.attacks["pgd"] = runner.AttackRun("pgd", "pgd", 0.1, adv, model(adv).numpy().argmax(1), 0.0)
    explainers = {label: build_explainer(o) for label, o in job.methods.items()}
    rows = [0, 2, 3]
    runner._saliency(job, m, explainers, x, labels, rows, out)
    return model.get_weights()[0], out, predicted[rows], labels[rows]


def _rows_of(weights, classes):
    return np.stack([weights[:, c].reshape(4, 4, 1) for c in classes])


def test_target_predicted_explains_the_predicted_class():
    weights, out, predicted, _ = _saliency(_job())
    np.testing.assert_allclose(out.saliency["vanilla"], _rows_of(weights, predicted), rtol=1e-5, atol=1e-6)


def test_target_label_explains_the_true_class():
    weights, out, _, labels = _saliency(_job("saliency.target=label"))
    np.testing.assert_allclose(out.saliency["vanilla"], _rows_of(weights, labels), rtol=1e-5, atol=1e-6)


def test_adversarial_maps_are_made_unless_switched_off():
    job = _job("saliency.attack=pgd")
    weights, out, _, _ = _saliency(job)
    adv_predicted = out.adversarial_probs.argmax(axis=1)
    assert out.adversarial_rows == [0, 2, 3] and out.adversarial_probs.shape == (3, 3)
    np.testing.assert_allclose(out.saliency_adversarial["vanilla"], _rows_of(weights, adv_predicted), rtol=1e-5,
                               atol=1e-6)
    off = _job("saliency.adversarial=false")
    assert job.saliency_attack() == "pgd" and off.saliency_attack() is None
    _, out, _, _ = _saliency(off)
    assert out.adversarial_rows == [] and out.saliency_adversarial == {} and out.adversarial_probs is None


@pytest.mark.parametrize("k", [1, 3])
def test_top_k_lists_the_k_most_probable_classes_in_order(k):
    probs = np.array([0.05, 0.4, 0.1, 0.3, 0.15])
    fig, ax = plt.subplots()
    plots.top_k(ax, probs, ["a", "b", "c", "d", "e"], label=3, k=k)
    bars = ax.patches
    assert len(bars) == k
    assert [round(b.get_width(), 6) for b in bars] == sorted(probs, reverse=True)[:k]
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "b 0.40" and len(texts) == k
    if k == 3:
        assert texts[1] == "d 0.30" and bars[1].get_facecolor()[:3] != bars[0].get_facecolor()[:3], "label in green"
    plt.close(fig)
