"""Scoring arithmetic and the sanity checks, on hand-made results."""

import numpy as np

from robustkit.evaluation.config import SanityConfig
from robustkit.evaluation.sanity import run_checks
from robustkit.evaluation.scoring import AttackInfo, Results, score, worst_case


def _info(label, name, norm="linf", kind="white_box", examples=4, targeted=None):
    return AttackInfo(label=label, name=name, norm=norm, kind=kind, targeted=targeted, examples=examples,
                      description=name, parameters={})


def _results(accuracies):
    """``{label: (info, {epsilon: correct})}`` for one model ``m`` on four examples."""
    results = Results(models=["m"], num_examples=4, clean={"m": np.array([True, True, True, False])})
    labels = np.array([0, 1, 2, 3])
    for label, (info, sweep) in accuracies.items():
        results.attacks[label] = info
        for eps, correct in sweep.items():
            correct = np.array(correct, bool)
            n = len(correct)
            predicted = np.where(correct, labels[:n], (labels[:n] + 1) % 4)
            row, kept = score("m", info, eps, results.clean["m"][:n], predicted, labels[:n], np.zeros((n, 2, 2, 1)))
            results.rows.append(row)
            results.correct[("m", label, eps)] = kept
    results.worst_case = worst_case(results)
    results.gradients["m"] = {"examples": 4, "nan": 0, "zero": 0, "mean_abs": 0.1}
    results.large_epsilon["m"] = {"epsilon": 0.5, "iterations": 20, "examples": 4, "accuracy": 0.0}
    return results


def _by_name(checks):
    return {c["name"]: c for c in checks}


def test_score_counts_success_only_on_examples_that_were_correct():
    info = _info("pgd", "pgd")
    clean = np.array([True, True, False, True])
    labels = np.array([0, 1, 2, 3])
    delta = np.zeros((4, 2, 2, 1))
    delta[0, 0, 0, 0], delta[1, :, :, 0] = 0.3, 0.1
    row, correct = score("m", info, 0.1, clean, np.array([0, 2, 1, 1]), labels, delta, targets=np.array([1, 2, 0, 1]))
    np.testing.assert_array_equal(correct, [True, False, False, False])
    assert row.accuracy == 0.25 and row.success_rate == 2 / 3 and row.target_hit_rate == 0.5
    assert np.isclose(row.mean_linf, (0.3 + 0.1) / 4) and np.isclose(row.mean_l2, (0.3 + 0.2) / 4)


def test_worst_case_is_per_example_over_the_attacks_of_a_norm():
    results = _results({
        "fgsm": (_info("fgsm", "fgsm"), {0.1: [1, 0, 1, 1]}),
        "pgd": (_info("pgd", "pgd"), {0.1: [1, 1, 0, 1]}),
        "pgd_l2": (_info("pgd_l2", "pgd", norm="l2"), {0.1: [0, 1, 1, 1]}),
        "few": (_info("few", "pgd", examples=2), {0.1: [0, 0]}),  # A subset: left out of the worst case.
    })
    assert results.worst_case["m"]["linf"] == [{"epsilon": 0.1, "accuracy": 0.5, "attacks": ["fgsm", "pgd"]}]
    assert results.worst_case["m"]["l2"][0]["accuracy"] == 0.75


def test_a_sound_evaluation_passes_every_check():
    results = _results({
        "fgsm": (_info("fgsm", "fgsm"), {0.0: [1, 1, 1, 0], 0.1: [1, 1, 0, 0], 0.2: [1, 0, 0, 0]}),
        "pgd": (_info("pgd", "pgd"), {0.1: [1, 0, 0, 0], 0.2: [0, 0, 0, 0]}),
        "transfer": (_info("transfer", "transfer", kind="transfer"), {0.1: [1, 1, 1, 0]}),
        "noise": (_info("noise", "noise", kind="noise"), {0.1: [1, 1, 1, 0], 0.2: [1, 1, 0, 0]}),
    })
    checks = run_checks(results, SanityConfig(tolerance=0.0))
    assert len(checks) == 6 and all(c["passed"] for c in checks), checks
    assert all(c["model"] == "m" and c["details"] for c in checks)


def test_broken_evaluations_fail_with_their_numbers():
    results = _results({
        "fgsm": (_info("fgsm", "fgsm"), {0.1: [1, 0, 0, 0], 0.2: [1, 1, 0, 0]}),  # Rises with epsilon.
        "pgd": (_info("pgd", "pgd"), {0.1: [1, 1, 1, 0]}),  # Weaker than FGSM.
        "transfer": (_info("transfer", "transfer", kind="transfer"), {0.1: [0, 0, 0, 0]}),
        "noise": (_info("noise", "noise", kind="noise"), {0.2: [0, 0, 0, 0]}),
    })
    results.gradients["m"].update(zero=2)
    results.large_epsilon["m"]["accuracy"] = 0.5
    checks = _by_name(run_checks(results, SanityConfig(tolerance=0.01)))
    assert {name for name, c in checks.items() if c["passed"] is False} == set(checks)
    assert "+0.2500 (fgsm: 0.2500 at 0.1 -> 0.5000 at 0.2)" in checks["accuracy_never_rises_with_epsilon"]["details"]
    assert "0 of 1 comparisons hold" in checks["pgd_at_least_as_strong_as_fgsm"]["details"]
    assert "2 with all-zero" in checks["input_gradients_finite_and_nonzero"]["details"]
    assert "leaves accuracy 0.5000" in checks["accuracy_near_zero_at_large_epsilon"]["details"]


def test_checks_without_the_attacks_they_need_are_skipped():
    results = _results({"lbfgs": (_info("lbfgs", "lbfgs", norm=None), {None: [0, 1, 0, 0]})})
    checks = _by_name(run_checks(results, SanityConfig()))
    for name in ("accuracy_never_rises_with_epsilon", "pgd_at_least_as_strong_as_fgsm",
                 "white_box_at_least_as_strong_as_transfer", "white_box_at_least_as_strong_as_noise"):
        assert checks[name]["passed"] is None and checks[name]["details"].startswith("skipped")
