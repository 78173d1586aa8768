"""Calibration and detection metrics against hand calculations."""

import math

import numpy as np
import pytest

from robustkit.explain import metrics

PROBS = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
LABELS = np.array([0, 1, 1, 0])


def test_ece_nll_brier_by_hand():
    # Four confidences in four bins: |1 - 0.9|, |0 - 0.6|, |1 - 0.7|, |1 - 0.8|.
    assert metrics.ece(PROBS, LABELS, bins=15) == pytest.approx((0.1 + 0.6 + 0.3 + 0.2) / 4)
    # One bin: accuracy 3/4 against mean confidence 3/4.
    assert metrics.ece(PROBS, LABELS, bins=1) == pytest.approx(0.0, abs=1e-12)
    assert metrics.nll(PROBS, LABELS) == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.7, 0.8])))
    assert metrics.brier(PROBS, LABELS) == pytest.approx((0.02 + 0.72 + 0.18 + 0.08) / 4)
    assert metrics.accuracy(PROBS, LABELS) == 0.75


def test_ece_bins_are_closed_on_the_right():
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    # 0.5 falls in (0.4, 0.5] with bins=10, 1.0 in (0.9, 1.0]; both correct.
    assert metrics.ece(probs, np.array([0, 0]), bins=10) == pytest.approx((0.5 + 0.0) / 2)


def test_entropy():
    assert metrics.entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))
    assert metrics.entropy(np.array([1.0, 0.0])) == pytest.approx(0.0)


def test_auroc_is_the_rank_statistic():
    assert metrics.auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert metrics.auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert metrics.auroc([0.5, 0.5], [0.5]) == 0.5
    assert metrics.auroc([], [0.1]) is None
    rng = np.random.default_rng(0)
    neg, pos = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert metrics.auroc(neg, pos) == pytest.approx(pairs)


def test_summary_per_class():
    variance = np.array([[0.01, 0.01], [0.04, 0.04], [0.0, 0.0], [0.02, 0.02]])
    mi = np.array([0.1, 0.2, 0.0, 0.3])
    record = metrics.summary(PROBS, variance, mi, LABELS, ["a", "b"], bins=15)
    assert record["accuracy"] == 0.75 and record["examples"] == 4
    assert record["mean_confidence"] == pytest.approx(1 - 0.07 / 4)
    a, b = record["per_class"]
    assert (a["name"], a["examples"], a["accuracy"]) == ("a", 2, 1.0)
    assert a["confidence"] == pytest.approx(1 - 0.015) and a["mean_label_probability"] == pytest.approx(0.85)
    assert b["accuracy"] == 0.5 and b["mean_label_probability"] == pytest.approx(0.55)
    assert b["mean_mutual_information"] == pytest.approx(0.1)
