"""Calibration, uncertainty and detection metrics on arrays (NumPy and SciPy only).

- expected calibration error: Naeini, Cooper and Hauskrecht (2015), "Obtaining
  Well Calibrated Probabilities Using Bayesian Binning", as used by Guo, Pleiss,
  Sun and Weinberger (2017), "On Calibration of Modern Neural Networks"
  (equal-width bins of the top probability);
- Brier score: Brier (1950), "Verification of Forecasts Expressed in Terms of
  Probability", summed over classes;
- mutual information between the prediction and the weights (the BALD score of
  Houlsby, Huszar, Ghahramani and Lengyel, 2011), as an adversarial-example
  detector: Smith and Gal (2018), "Understanding Measures of Uncertainty for
  Adversarial Example Detection";
- AUROC as the Mann-Whitney U statistic with tied ranks averaged.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import scipy.stats

_EPS = 1e-12


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats along the last axis."""
    p = np.asarray(probs, np.float64)
    return -np.sum(p * np.log(np.maximum(p, _EPS)), axis=-1)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of examples whose most probable class is the label."""
    return float(np.mean(np.argmax(probs, axis=-1) == labels))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels."""
    chosen = np.asarray(probs, np.float64)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(chosen, _EPS))))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean over examples of ``sum_k (p_k - [k == label])^2`` (between 0 and 2)."""
    p = np.asarray(probs, np.float64)
    onehot = np.eye(p.shape[-1])[labels]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=-1)))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error over ``bins`` equal-width bins of the top probability.

    Bin ``i`` holds confidences in ``(i / bins, (i + 1) / bins]`` (the first
    also 0); ECE is ``sum_i |B_i| / N * |accuracy(B_i) - confidence(B_i)|``.
    """
    p = np.asarray(probs, np.float64)
    confidence = p.max(axis=-1)
    correct = np.argmax(p, axis=-1) == labels
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / len(labels))


def auroc(negatives: Sequence[float], positives: Sequence[float]) -> Optional[float]:
    """P(score of a positive > score of a negative), ties counting one half; None if a side is empty."""
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    if neg.size == 0 or pos.size == 0:
        return None
    ranks = scipy.stats.rankdata(np.concatenate([neg, pos]))
    u = ranks[neg.size:].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def summary(mean: np.ndarray, variance: np.ndarray, mutual_information: np.ndarray, labels: np.ndarray,
            class_names: Sequence[str], bins: int = 15) -> Dict[str, Any]:
    """Dataset metrics of MC-dropout predictions, and the same per class of the label.

    Per class: ``accuracy`` (argmax of the mean softmax), the ``confidence`` of
    "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models"
    (1 - the variance over samples of the label's probability, averaged over
    the class's images), that project's per-image "accuracy" (the
    mean softmax of the label: ``mean_label_probability``), and the mean top
    probability.
    """
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    label_variance = variance[rows, labels]
    label_probability = mean[rows, labels]
    record: Dict[str, Any] = {
        "examples": int(len(labels)),
        "accuracy": accuracy(mean, labels),
        "nll": nll(mean, labels),
        "ece": ece(mean, labels, bins),
        "brier": brier(mean, labels),
        "mean_confidence": float(np.mean(1.0 - label_variance)),
        "mean_max_probability": float(np.mean(mean.max(axis=-1))),
        "mean_predictive_entropy": float(np.mean(entropy(mean))),
        "mean_mutual_information": float(np.mean(mutual_information)),
    }
    per_class: List[Dict[str, Any]] = []
    for c, name in enumerate(class_names):
        members = labels == c
        if not members.any():
            continue
        per_class.append({
            "class": c, "name": name, "examples": int(members.sum()),
            "accuracy": accuracy(mean[members], labels[members]),
            "confidence": float(np.mean(1.0 - label_variance[members])),
            "mean_label_probability": float(np.mean(label_probability[members])),
            "mean_max_probability": float(np.mean(mean[members].max(axis=-1))),
            "mean_mutual_information": float(np.mean(mutual_information[members])),
        })
    record["per_class"] = per_class
    return record
