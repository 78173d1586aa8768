"""Runs an ``autoattack`` block of ``validate_adv`` on every model, stage by stage.

Unlike the other attacks, which `robustkit.evaluation.runner` calls batch by
batch, the cascade sees all the attacked examples at once: each stage runs only
on the examples still classified correctly, re-batched, so later stages cost
less. Per model and epsilon this records the usual `Row` (robust_accuracy.csv,
attack = the block's label) and, in ``results.autoattack``, the robust accuracy
after every stage (metrics.json, the report and the RobustBench record).
"""

import logging
import time
from typing import Dict

import numpy as np

from robustkit.attacks.autoattack_cascade import AutoAttack
from robustkit.evaluation.scoring import AttackInfo, Results, score

log = logging.getLogger(__name__)


def run_autoattack(job, results: Results, label: str, attack: AutoAttack, info: AttackInfo, epsilon: float,
                   models: Dict[str, object], images: np.ndarray, labels: np.ndarray, index: int, predict,
                   keep: bool) -> None:
    """One ``autoattack`` block at one epsilon on every model."""
    shown = min(job.report.examples, len(labels))
    summary = []
    for name, model in models.items():
        started = time.perf_counter()
        seed = (attack.options.seed if attack.options.seed is not None else job.run.seed, index)
        outcome = attack.run(model, images, labels, epsilon, seed=seed, batch_size=job.batch_size)
        adversarial, stages, robust = outcome.adversarial, outcome.stages, outcome.robust
        predicted = np.concatenate([predict(model, adversarial[start:start + job.batch_size])
                                    for start in range(0, len(labels), job.batch_size)])
        row, correct = score(name, info, epsilon, results.clean[name][:len(labels)], predicted, labels,
                             adversarial - images)
        results.rows.append(row)
        results.correct[(name, label, epsilon)] = correct
        seconds = time.perf_counter() - started
        results.autoattack.setdefault(name, []).append({
            "attack": label, "version": attack.options.version, "norm": attack.norm, "epsilon": epsilon,
            "examples": int(len(labels)), "clean_accuracy": float(np.mean(results.clean[name][:len(labels)])),
            "robust_accuracy": float(np.mean(robust)), "stages": stages, "seconds": seconds,
        })
        if keep and shown:
            results.examples.setdefault("adversarial", {})[name] = adversarial[:shown]
            results.examples.setdefault("predicted", {})[name] = predicted[:shown]
        summary.append(f"{name} {row.accuracy:.4f}")
        stage_text = ", ".join(f"{s['stage']} {s['accuracy']:.4f}" for s in stages)
        log.info("%s epsilon %g on %s: %s (%.1fs)", label, epsilon, name, stage_text, seconds)
    if keep and shown:
        results.examples.update(attack=label, epsilon=epsilon, images=images[:shown], labels=labels[:shown],
                                description=info.description)
    log.info("%s epsilon %g: accuracy %s", label, epsilon, ", ".join(summary))
