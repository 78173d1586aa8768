"""The statistics of randomized smoothing: PREDICT's and CERTIFY's decisions from class counts (no TensorFlow).

Cohen, Rosenfeld & Kolter, "Certified Adversarial Robustness via Randomized
Smoothing" (ICML 2019). The smoothed classifier ``g(x) = argmax_c P(f(x + e) =
c)``, ``e ~ N(0, sigma^2 I)``, keeps its class within the L2 radius
``sigma * Phi^-1(p_A)`` of x whenever ``P(f(x + e) = c_A) >= p_A > 1/2``.

- `certify_one`: CERTIFY. The class with most of the ``n0`` selection draws
  is c_A; ``p_A`` is the one-sided Clopper-Pearson lower bound at level
  ``1 - alpha`` on its share of ``n`` independent estimation draws; abstain
  when ``p_A <= 1/2``.
- `predict_one`: PREDICT. The top two classes of ``n`` draws; abstain unless
  the two-sided binomial test of ``n_A`` against ``n_A + n_B`` at 1/2 has
  ``p <= alpha``.
"""

from typing import Dict, Sequence, Tuple

import numpy as np
from scipy import stats

ABSTAIN = -1


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """The one-sided ``1 - alpha`` Clopper-Pearson lower confidence bound on a binomial proportion.

    It is the ``alpha`` quantile of ``Beta(k, n - k + 1)``, and 0 for ``k = 0``
    (the lower end of statsmodels' ``proportion_confint(k, n, 2 * alpha, "beta")``).
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    if successes == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, successes, trials - successes + 1))


def clopper_pearson_upper(successes: int, trials: int, alpha: float) -> float:
    """The one-sided ``1 - alpha`` Clopper-Pearson upper bound: the ``1 - alpha`` quantile of ``Beta(k + 1, n - k)``."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    if successes == trials:
        return 1.0
    return float(stats.beta.ppf(1.0 - alpha, successes + 1, trials - successes))


def radius(p_lower: float, sigma: float) -> float:
    """The certified L2 radius ``sigma * Phi^-1(p_lower)``, 0 when ``p_lower <= 1/2``."""
    if p_lower <= 0.5:
        return 0.0
    return float(sigma * stats.norm.ppf(p_lower))


def certify_one(selection: np.ndarray, estimation: np.ndarray, sigma: float, alpha: float) -> Tuple[int, float, float]:
    """CERTIFY from the class counts of the selection and the estimation draws.

    Args:
      selection: ``[C]`` counts of the ``n0`` selection draws.
      estimation: ``[C]`` counts of the ``n`` estimation draws.
      sigma: the noise level.
      alpha: the failure probability.

    Returns:
      ``(class, radius, p_lower)``; the class is `ABSTAIN` and the radius 0
      when ``p_lower <= 1/2``.
    """
    top = int(np.argmax(selection))
    trials = int(np.sum(estimation))
    p_lower = clopper_pearson_lower(int(estimation[top]), trials, alpha)
    if p_lower <= 0.5:
        return ABSTAIN, 0.0, p_lower
    return top, radius(p_lower, sigma), p_lower


def binomial_p_value(top: int, second: int) -> float:
    """The two-sided binomial test's p-value of ``top`` successes in ``top + second`` trials at 1/2."""
    if top + second == 0:
        return 1.0
    return float(stats.binomtest(int(top), int(top + second), 0.5, alternative="two-sided").pvalue)


def predict_one(counts: np.ndarray, alpha: float) -> Tuple[int, float]:
    """PREDICT from the class counts of its draws: ``(class or ABSTAIN, p-value)``."""
    order = np.argsort(-np.asarray(counts), kind="stable")
    top, second = int(counts[order[0]]), int(counts[order[1]]) if len(order) > 1 else 0
    p_value = binomial_p_value(top, second)
    return (int(order[0]) if p_value <= alpha else ABSTAIN), p_value


def certified_accuracy(radii: np.ndarray, correct: np.ndarray, grid: Sequence[float]) -> Dict[str, float]:
    """The share of examples certified correct with a radius of at least r, for each r of ``grid``.

    At r = 0 an example counts when CERTIFY returned its label (radius > 0 then).
    """
    radii, correct = np.asarray(radii, np.float64), np.asarray(correct, bool)
    total = max(len(radii), 1)
    return {f"{r:g}": float(np.sum(correct & (radii >= r) & (radii > 0)) / total) for r in grid}
