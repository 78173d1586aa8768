"""Sanity checks on an evaluation, from Carlini et al. (2019), "On Evaluating Adversarial Robustness".

Each check is run per model and returns ``{name, model, passed, details,
values}``: ``passed`` is True or False, or None when the configured attacks do
not allow the check (the details say what is missing). A failed check does not
stop the run; it says that a robust-looking number should not be trusted.

- ``accuracy_never_rises_with_epsilon``: a stronger attack cannot do worse (s. 5.1).
- ``pgd_at_least_as_strong_as_fgsm``: iterative attacks beat single-step ones;
  if not, the loss surface is masking gradients (s. 5.3).
- ``white_box_at_least_as_strong_as_transfer`` and ``..._noise``: an attack
  that knows the model must beat one that does not (s. 5.5, 5.6).
- ``accuracy_near_zero_at_large_epsilon``: with an unbounded budget every image
  can be changed into another class; accuracy left there is an attack failure
  (s. 5.2).
- ``input_gradients_finite_and_nonzero``: zero or NaN gradients hide the model
  from gradient attacks (s. 5.3).
"""

from typing import Any, Dict, List, Optional

from robustkit.evaluation.config import SanityConfig
from robustkit.evaluation.scoring import Results

WHITE_BOX_SWEEPS = ("fgsm", "fgm", "pgd", "nsl", "apgd", "fab", "autoattack")


def _check(name: str, model: str, passed: Optional[bool], details: str, **values: Any) -> Dict[str, Any]:
    return {"name": name, "model": model, "passed": passed, "details": details, "values": values}


def _untargeted(results: Results, name_or_kind: str, by: str = "name"):
    return [i for i in results.attacks.values() if getattr(i, by) == name_or_kind and i.targeted is None and i.norm]


def monotone(results: Results, model: str, tolerance: float) -> Dict[str, Any]:
    rises = []
    sweeps = 0
    for info in results.attacks.values():
        rows = [r for r in results.sweep(model, info.label) if r.epsilon is not None]
        sweeps += len(rows) > 1
        for a, b in zip(rows, rows[1:]):
            rises.append({"attack": info.label, "from_epsilon": a.epsilon, "to_epsilon": b.epsilon,
                          "from_accuracy": a.accuracy, "to_accuracy": b.accuracy, "rise": b.accuracy - a.accuracy})
    name = "accuracy_never_rises_with_epsilon"
    if not rises:
        return _check(name, model, None, "skipped: no attack has two or more epsilons")
    worst = max(rises, key=lambda r: r["rise"])
    bad = [r for r in rises if r["rise"] > tolerance]
    summary = (f"largest change {worst['rise']:+.4f} ({worst['attack']}: {worst['from_accuracy']:.4f} at "
               f"{worst['from_epsilon']:g} -> {worst['to_accuracy']:.4f} at {worst['to_epsilon']:g})")
    verdict = f"{len(bad)} rise(s) above the tolerance {tolerance:g}" if bad else f"no rise above {tolerance:g}"
    return _check(name, model, not bad, f"{verdict} over {sweeps} sweep(s); {summary}", violations=bad,
                  largest=worst)


def _compare(results: Results, model: str, name: str, strong, weak, tolerance: float, what: str):
    """Checks that each ``weak`` attack leaves no less accuracy than the best ``strong`` one at the same epsilon."""
    pairs = []
    for w in weak:
        for eps in [r.epsilon for r in results.sweep(model, w.label)]:
            candidates = [(results.accuracy(model, s.label, eps), s.label) for s in strong
                          if s.norm == w.norm and s.examples == w.examples and s.label != w.label]
            candidates = [c for c in candidates if c[0] is not None]
            if not candidates or eps == 0:
                continue
            best_accuracy, best_label = min(candidates)
            weak_accuracy = results.accuracy(model, w.label, eps)
            pairs.append({"epsilon": eps, "norm": w.norm, "strong": best_label, "strong_accuracy": best_accuracy,
                          "weak": w.label, "weak_accuracy": weak_accuracy,
                          "margin": weak_accuracy - best_accuracy})
    if not pairs:
        return _check(name, model, None, f"skipped: {what}")
    bad = [p for p in pairs if p["margin"] < -tolerance]
    worst = min(pairs, key=lambda p: p["margin"])
    detail = (f"{len(pairs) - len(bad)} of {len(pairs)} comparisons hold (tolerance {tolerance:g}); closest: "
              f"{worst['strong']} {worst['strong_accuracy']:.4f} vs {worst['weak']} {worst['weak_accuracy']:.4f} "
              f"at epsilon {worst['epsilon']:g} ({worst['norm']})")
    return _check(name, model, not bad, detail, violations=bad, comparisons=pairs)


def pgd_vs_fgsm(results: Results, model: str, tolerance: float) -> Dict[str, Any]:
    single = _untargeted(results, "fgsm") + _untargeted(results, "fgm")
    return _compare(results, model, "pgd_at_least_as_strong_as_fgsm", _untargeted(results, "pgd"), single,
                    tolerance, "needs untargeted pgd and fgsm (or fgm) at a shared nonzero epsilon and norm")


def white_box_vs(results: Results, model: str, kind: str, tolerance: float) -> Dict[str, Any]:
    strong = [i for n in WHITE_BOX_SWEEPS for i in _untargeted(results, n)]
    return _compare(results, model, f"white_box_at_least_as_strong_as_{kind}", strong,
                    _untargeted(results, kind, by="kind"), tolerance,
                    f"needs an untargeted {kind} attack and a white-box sweep at a shared nonzero epsilon and norm")


def large_epsilon(results: Results, model: str, options: SanityConfig) -> Dict[str, Any]:
    found = results.large_epsilon.get(model)
    name = "accuracy_near_zero_at_large_epsilon"
    if not found:
        return _check(name, model, None, "skipped: not measured")
    passed = found["accuracy"] <= options.max_accuracy_at_large_epsilon
    detail = (f"PGD (linf, epsilon {found['epsilon']:g}, {found['iterations']} iterations) leaves accuracy "
              f"{found['accuracy']:.4f} on {found['examples']} examples; at most "
              f"{options.max_accuracy_at_large_epsilon:g} passes")
    return _check(name, model, passed, detail, **found)


def gradients(results: Results, model: str) -> Dict[str, Any]:
    found = results.gradients.get(model)
    name = "input_gradients_finite_and_nonzero"
    if not found:
        return _check(name, model, None, "skipped: not measured")
    passed = found["nan"] == 0 and found["zero"] == 0
    detail = (f"{found['nan']} example(s) with NaN and {found['zero']} with all-zero input gradients of the "
              f"cross-entropy, of {found['examples']}; mean |gradient| {found['mean_abs']:.3g}")
    return _check(name, model, passed, detail, **found)


def run_checks(results: Results, options: SanityConfig) -> List[Dict[str, Any]]:
    """Every check for every model, in a fixed order."""
    checks = []
    for model in results.models:
        checks += [
            monotone(results, model, options.tolerance),
            pgd_vs_fgsm(results, model, options.tolerance),
            white_box_vs(results, model, "transfer", options.tolerance),
            white_box_vs(results, model, "noise", options.tolerance),
            large_epsilon(results, model, options),
            gradients(results, model),
        ]
    return checks
