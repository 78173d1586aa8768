"""What a validation measured, and the arithmetic on per-example results (NumPy only).

Every model is scored on the same examples: row ``i`` of every array is
evaluation example ``i``. An attack with ``max_examples`` covers the first
examples only; its rows say how many.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


@dataclasses.dataclass
class AttackInfo:
    """One configured attack, as the report describes it.

    Attributes:
      label: its key under ``attacks``.
      name: the registered attack.
      norm: linf, l2, or None for attacks without a radius.
      kind: white_box, transfer or noise.
      targeted: None, random or least_likely.
      examples: examples attacked.
      description: one line, e.g. ``pgd (linf, 10 iterations)``.
      parameters: the resolved config block.
      seconds: time spent on the attack, all models and epsilons.
    """

    label: str
    name: str
    norm: Optional[str]
    kind: str
    targeted: Optional[str]
    examples: int
    description: str
    parameters: Dict[str, Any]
    seconds: float = 0.0


@dataclasses.dataclass
class Row:
    """One model under one attack at one epsilon (one line of robust_accuracy.csv)."""

    model: str
    attack: str
    name: str
    norm: Optional[str]
    epsilon: Optional[float]
    examples: int
    accuracy: float
    success_rate: Optional[float]
    mean_linf: float
    mean_l2: float
    target_hit_rate: Optional[float] = None
    extras: Dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Results:
    """Everything a validation measured; `robustkit.evaluation.report` writes it out.

    Attributes:
      models: model names in ``--model`` order.
      num_examples: evaluation examples every model was scored on.
      clean: model -> whether each example is classified correctly.
      attacks: label -> `AttackInfo`, in config order.
      rows: one per model, attack and epsilon.
      correct: ``(model, label, epsilon)`` -> correctness per attacked example.
      worst_case: model -> norm -> rows of ``{epsilon, accuracy, attacks}``.
      gradients: model -> input-gradient statistics.
      large_epsilon: model -> the large-epsilon PGD result.
      models_info: model -> path, notes, input range.
      examples: what examples.png draws.
      sanity: the checks, filled by `robustkit.evaluation.sanity`.
      data: the dataset, split and image shape attacked.
      class_names: names of the classes, index = class id.
      autoattack: model -> one entry per AutoAttack run (attack label, version,
        epsilon, robust accuracy after every stage; `robustkit.evaluation.cascade`).
      probes: model -> what the AutoAttack checks measured (two forward passes,
        the output kind, DLR input gradients; `robustkit.evaluation.aa_checks`).
      chief: whether this process writes the outputs (false on the other
        workers of a multi_worker run, which hold the same gathered results).
      corruptions: the corruption benchmark (`robustkit.evaluation.corruption`), or None.
    """

    models: List[str]
    num_examples: int
    clean: Dict[str, np.ndarray]
    attacks: Dict[str, AttackInfo] = dataclasses.field(default_factory=dict)
    rows: List[Row] = dataclasses.field(default_factory=list)
    correct: Dict[Tuple[str, str, Optional[float]], np.ndarray] = dataclasses.field(default_factory=dict)
    worst_case: Dict[str, Dict[str, List[Dict[str, Any]]]] = dataclasses.field(default_factory=dict)
    gradients: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    large_epsilon: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    models_info: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    examples: Dict[str, Any] = dataclasses.field(default_factory=dict)
    sanity: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    data: Dict[str, Any] = dataclasses.field(default_factory=dict)
    class_names: List[str] = dataclasses.field(default_factory=list)
    autoattack: Dict[str, List[Dict[str, Any]]] = dataclasses.field(default_factory=dict)
    probes: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    chief: bool = True
    corruptions: Optional[Any] = None

    def clean_accuracy(self, model: str) -> float:
        return float(np.mean(self.clean[model]))

    def accuracy(self, model: str, label: str, epsilon: Optional[float]) -> Optional[float]:
        for row in self.rows:
            if row.model == model and row.attack == label and row.epsilon == epsilon:
                return row.accuracy
        return None

    def sweep(self, model: str, label: str) -> List[Row]:
        """The rows of one attack on one model, by increasing epsilon."""
        rows = [r for r in self.rows if r.model == model and r.attack == label]
        return sorted(rows, key=lambda r: -1.0 if r.epsilon is None else r.epsilon)


def score(model: str, info: AttackInfo, epsilon: Optional[float], clean: np.ndarray, predicted: np.ndarray,
          labels: np.ndarray, delta: np.ndarray, targets: Optional[np.ndarray] = None,
          measures: Optional[Dict[str, np.ndarray]] = None) -> Tuple[Row, np.ndarray]:
    """One `Row` and the per-example correctness from predictions on adversarial images.

    Args:
      clean: whether each attacked example was correct before the attack.
      predicted: the classes predicted on the adversarial images.
      labels: the true classes.
      delta: adversarial minus clean images, [N, H, W, C].
      targets: the target classes of a targeted attack.
      measures: attack-specific per-example values (summarised as mean, median, max).
    """
    correct = predicted == labels
    flat = np.abs(delta.reshape(len(delta), -1)).astype(np.float64)
    success = float(np.mean(~correct[clean])) if clean.any() else None
    extras = {}
    for key, values in (measures or {}).items():
        extras.update({f"mean_{key}": float(np.mean(values)), f"median_{key}": float(np.median(values)),
                       f"max_{key}": float(np.max(values))})
    row = Row(
        model=model, attack=info.label, name=info.name, norm=info.norm, epsilon=epsilon, examples=len(labels),
        accuracy=float(np.mean(correct)), success_rate=success,
        mean_linf=float(np.mean(flat.max(axis=1))) if flat.size else 0.0,
        mean_l2=float(np.mean(np.sqrt((flat ** 2).sum(axis=1)))) if flat.size else 0.0,
        target_hit_rate=float(np.mean(predicted == targets)) if targets is not None else None,
        extras=extras,
    )
    return row, correct


def worst_case(results: Results) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """Per model and norm: for each epsilon, the accuracy when every attack at that epsilon is tried per example.

    An example counts as robust at an epsilon only if no attack in that norm
    fooled the model on it. Attacks run on a subset (``max_examples``) are left
    out so that every example is covered by the same attacks.
    """
    out: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    full = [i for i in results.attacks.values() if i.norm and i.examples == results.num_examples]
    for model in results.models:
        per_norm: Dict[str, List[Dict[str, Any]]] = {}
        for norm in sorted({i.norm for i in full}):
            grid: Dict[float, List[str]] = {}
            for info in full:
                if info.norm != norm:
                    continue
                for key in results.correct:
                    if key[0] == model and key[1] == info.label:
                        grid.setdefault(key[2], []).append(info.label)
            rows = []
            for eps in sorted(grid):
                robust = np.logical_and.reduce([results.correct[(model, label, eps)] for label in grid[eps]])
                rows.append({"epsilon": eps, "accuracy": float(np.mean(robust)), "attacks": grid[eps]})
            per_norm[norm] = rows
        out[model] = per_norm
    return out
