"""AutoAttack's automatic warnings, as sanity checks (Croce and Hein, 2020, and its reference code).

`probe` measures, per model, on the first examples: whether two forward passes
agree, whether the outputs look like probabilities, and the input gradients of
the DLR loss. `run_checks` turns those and the AutoAttack results into checks
shaped like `robustkit.evaluation.sanity`'s (``{name, model, passed, details,
values}``), each saying what it saw. `robustkit.evaluation.runner` adds them to
the sanity checks of every run with an ``autoattack`` block:

- ``deterministic_forward_pass``: two passes on the same images differ: the
  model is randomised, so fixed-gradient attacks under-estimate it; use
  ``version: rand`` (expectation over transformation).
- ``outputs_are_logits``: the model outputs probabilities; attacks on the
  softmax saturate (robustkit attacks log-probabilities instead).
- ``dlr_gradients_finite_and_nonzero``: zero or NaN input gradients of the DLR
  loss leave APGD nothing to follow.
- ``enough_classes_for_autoattack``: DLR needs 3 classes, targeted DLR 4, and
  ``n_target_classes`` targets need ``n_target_classes + 1`` classes.
- ``square_no_stronger_than_white_box``: the black-box Square stage fooling
  examples that every white-box stage before it could not is the signature of
  gradient masking (AutoAttack's threshold: 0.2 points of accuracy).
"""

from typing import Any, Dict, List

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.apgd_attack import dlr_loss
from robustkit.evaluation.sanity import _check
from robustkit.evaluation.scoring import Results

RANDOMNESS_TOLERANCE = 1e-4  # On L2-normalised output rows, as the reference.
SQUARE_TOLERANCE = 0.002


def probe(model, images: np.ndarray, labels: np.ndarray) -> Dict[str, Any]:
    """What the checks need from one model, measured on ``images`` (a few hundred suffice)."""
    x = tf.constant(images, tf.float32)
    y = tf.constant(labels, tf.int64)
    logits_of = base.logits_fn(model)
    first, second = logits_of(x).numpy(), logits_of(x).numpy()
    unit = [o / (np.linalg.norm(o, axis=1, keepdims=True) + 1e-10) for o in (first, second)]
    max_difference = float(np.max(np.linalg.norm(unit[0] - unit[1], axis=1)))
    changed = int(np.sum(np.argmax(first, 1) != np.argmax(second, 1)))
    num_classes = first.shape[1]
    if hasattr(model, "probabilities"):
        probabilities = bool(model.probabilities)
    else:
        probabilities = bool(first.min() > -1e-5 and first.max() < 1 + 1e-5
                             and np.all(np.abs(first.sum(axis=1) - 1) < 1e-5))
    zero = nan = 0
    if num_classes >= 3:
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(dlr_loss(logits_of(x), y))
        grad = tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        grad = grad.numpy().reshape(len(images), -1)
        nan = int(np.sum(np.any(np.isnan(grad), axis=1)))
        # Only examples the attack will start from count: on a misclassified example whose label is the
        # third-highest logit, DLR = (z_1 - z_3) / (z_1 - z_3) = 1 is flat, a true zero gradient.
        correct = np.argmax(first, 1) == labels
        zero = int(np.sum(np.all(grad == 0, axis=1) & correct))
    return {"examples": int(len(images)), "correct": int(np.sum(np.argmax(first, 1) == labels)),
            "num_classes": int(num_classes), "max_output_difference": max_difference,
            "predictions_changed": changed, "probabilities": probabilities, "dlr_gradient_zero": zero,
            "dlr_gradient_nan": nan}


def _autoattack_blocks(results: Results) -> List[Any]:
    return [info for info in results.attacks.values() if info.name == "autoattack"]


def randomness(results: Results, model: str) -> Dict[str, Any]:
    found = results.probes.get(model)
    name = "deterministic_forward_pass"
    if not found:
        return _check(name, model, None, "skipped: not measured")
    passed = found["max_output_difference"] <= RANDOMNESS_TOLERANCE and found["predictions_changed"] == 0
    detail = (f"two forward passes on {found['examples']} examples: largest difference of the normalised outputs "
              f"{found['max_output_difference']:.3g} (at most {RANDOMNESS_TOLERANCE:g} passes), "
              f"{found['predictions_changed']} prediction(s) changed")
    versions = {info.parameters.get("version") for info in _autoattack_blocks(results)}
    if not passed and versions != {"rand"}:
        detail += "; the model is randomised: evaluate it with autoattack version: rand (EOT over 20 draws)"
    keys = ("max_output_difference", "predictions_changed", "examples")
    return _check(name, model, passed, detail, **{k: found[k] for k in keys})


def logits(results: Results, model: str) -> Dict[str, Any]:
    found = results.probes.get(model)
    name = "outputs_are_logits"
    if not found:
        return _check(name, model, None, "skipped: not measured")
    if found["probabilities"]:
        return _check(name, model, False, "the outputs are probabilities (non-negative rows summing to 1): attacks "
                      "on a softmax saturate; robustkit attacks log(probabilities), but export the logits if you "
                      "can", probabilities=True)
    return _check(name, model, True, "the outputs are not probability rows", probabilities=False)


def dlr_gradients(results: Results, model: str) -> Dict[str, Any]:
    found = results.probes.get(model)
    name = "dlr_gradients_finite_and_nonzero"
    if not found or found["num_classes"] < 3:
        return _check(name, model, None, "skipped: not measured (DLR needs 3 classes)")
    passed = found["dlr_gradient_zero"] == 0 and found["dlr_gradient_nan"] == 0
    detail = (f"{found['dlr_gradient_zero']} correctly classified example(s) with all-zero and "
              f"{found['dlr_gradient_nan']} with NaN input gradients of the DLR loss, of {found['examples']} "
              f"({found.get('correct', found['examples'])} correctly classified)")
    return _check(name, model, passed, detail, zero=found["dlr_gradient_zero"], nan=found["dlr_gradient_nan"])


def classes(results: Results, model: str) -> Dict[str, Any]:
    name = "enough_classes_for_autoattack"
    blocks = _autoattack_blocks(results)
    found = results.probes.get(model)
    if not blocks or not found:
        return _check(name, model, None, "skipped: no autoattack attack")
    count = found["num_classes"]
    problems = []
    for info in blocks:
        version, targets = info.parameters.get("version"), info.parameters.get("n_target_classes", 9)
        if count < 3 and version in ("plus", "rand"):
            problems.append(f"{info.label}: {count} classes are too few for the DLR loss (needs 3); APGD-DLR ran on "
                            "cross-entropy")
        if count < 4 and version in ("standard", "plus"):
            problems.append(f"{info.label}: {count} classes are too few for the targeted DLR loss (needs 4); APGD-T "
                            "ran on targeted cross-entropy")
        if targets + 1 > count and version in ("standard", "plus"):
            problems.append(f"{info.label}: n_target_classes = {targets} needs {targets + 1} classes; "
                            f"{count - 1} target(s) used")
    detail = "; ".join(problems) if problems else f"{count} classes suffice for every configured stage"
    return _check(name, model, not problems, detail, num_classes=count, problems=problems)


def square_masking(results: Results, model: str) -> Dict[str, Any]:
    name = "square_no_stronger_than_white_box"
    seen = []
    for entry in results.autoattack.get(model, []):
        stages = entry["stages"]
        for i, stage in enumerate(stages):
            if stage["stage"] == "square" and i > 0:
                drop = stages[i - 1]["accuracy"] - stage["accuracy"]
                seen.append({"attack": entry["attack"], "epsilon": entry["epsilon"], "drop": drop,
                             "fooled": stage["fooled"], "examples": stage["examples"]})
    if not seen:
        return _check(name, model, None, "skipped: no autoattack run with a Square stage after white-box stages")
    worst = max(seen, key=lambda s: s["drop"])
    bad = [s for s in seen if s["drop"] > SQUARE_TOLERANCE]
    detail = (f"Square fooled {worst['fooled']} of the {worst['examples']} examples the white-box stages left "
              f"(accuracy -{worst['drop']:.4f} at epsilon {worst['epsilon']:g}, {worst['attack']})")
    if bad:
        detail += (f"; more than {SQUARE_TOLERANCE:g}: the gradients are probably masked, so the white-box numbers "
                   "over-estimate robustness; try more Square queries and restarts or an adaptive attack")
    return _check(name, model, not bad, detail, violations=bad, runs=seen)


def run_checks(results: Results) -> List[Dict[str, Any]]:
    """Every AutoAttack check for every model."""
    checks = []
    for model in results.models:
        checks += [randomness(results, model), logits(results, model), dlr_gradients(results, model),
                   classes(results, model), square_masking(results, model)]
    return checks
