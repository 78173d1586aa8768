"""The checks of a certification run: an attack that must fail inside each certificate, and PREDICT against CERTIFY.

A certificate says the smoothed classifier keeps its class everywhere within
the radius. `attack_check` attacks the smoothed classifier itself there (PGD on
its expected softmax, `robustkit.certify.smoothing.SmoothedPGD`) and asks
PREDICT, with fresh draws, what it now says: a different class (not an
abstention) contradicts the certificate. Each such answer can also be one of
PREDICT's own errors, which happen with probability at most alpha.
"""

from typing import Any, Dict

import numpy as np
import tensorflow as tf

from robustkit.certify import bounds, smoothing
from robustkit.certify.config import SanitySection


def _attack(counter: smoothing.NoiseCounter, pgd: smoothing.SmoothedPGD, images, indices, predictions, radii,
            sigma: float, options: SanitySection, alpha: float, seed: int, phase: int) -> Dict[str, Any]:
    space = counter.space
    centers = space.centers(space.prepare(tf.constant(images))).numpy()
    attacked = pgd(images, centers, predictions, radii, sigma, seed + phase)
    counts, _ = counter.count(images, indices, sigma, [(phase, options.predict_n)], centers=attacked)
    answers = np.array([bounds.predict_one(c[0], alpha)[0] for c in counts])
    share = counts[:, 0, :][np.arange(len(predictions)), predictions] / float(options.predict_n)
    moved = np.sqrt(np.sum((attacked - centers).reshape(len(centers), -1) ** 2, axis=1))
    flipped = (answers != predictions) & (answers != bounds.ABSTAIN)
    return {
        "attacked": int(len(predictions)),
        "succeeded": int(np.sum(flipped)),
        "success_indices": [int(i) for i in np.asarray(indices)[flipped]],
        "abstained": int(np.sum(answers == bounds.ABSTAIN)),
        "min_share_of_certified_class": float(share.min()) if len(share) else None,
        "max_distance_over_radius": float(np.max(moved / np.maximum(radii, 1e-12))) if len(radii) else None,
    }


def attack_check(counter: smoothing.NoiseCounter, images: np.ndarray, indices: np.ndarray, predictions: np.ndarray,
                 radii: np.ndarray, sigma: float, options: SanitySection, alpha: float, seed: int) -> Dict[str, Any]:
    """Attacks the first ``options.examples`` certified examples within their radius (and beyond, as a control).

    Args:
      counter: the counter the examples were certified with (its space and classifier).
      images: float32 ``[N, H, W, C]``, the examples.
      indices: ``[N]`` their indices in the split.
      predictions: ``[N]`` CERTIFY's classes (`bounds.ABSTAIN` for none).
      radii: ``[N]`` the certified radii.
      sigma: the noise level.
      options: the ``sanity`` section.
      alpha: PREDICT's failure probability.
      seed: seeds the attack's noise.

    Returns:
      ``passed`` (no attack inside a radius changed PREDICT's class), the
      counts, and ``control``: the same attack at ``control_scale`` times the
      radius, where success is allowed.
    """
    chosen = np.flatnonzero((predictions != bounds.ABSTAIN) & (radii > 0))[:options.examples]
    if not len(chosen):
        return {"passed": True, "attacked": 0, "succeeded": 0, "detail": "no certified example to attack",
                "control": None}
    pgd = smoothing.SmoothedPGD(counter.space, options.steps, options.samples)
    args = (pgd, images[chosen], np.asarray(indices)[chosen], predictions[chosen])
    inside = _attack(counter, *args, radii[chosen], sigma, options, alpha, seed, smoothing.PHASE_ATTACKED)
    inside["passed"] = inside["succeeded"] == 0
    inside["detail"] = (f"{inside['succeeded']} of {inside['attacked']} certified examples had PREDICT give another "
                        f"class after PGD ({options.steps} steps, {options.samples} draws each) within the radius")
    inside["control"] = None
    if options.control_scale > 0:
        control = _attack(counter, *args, radii[chosen] * options.control_scale, sigma, options, alpha, seed,
                          smoothing.PHASE_CONTROL)
        control["scale"] = options.control_scale
        inside["control"] = control
    return inside


def agreement_check(certified: np.ndarray, predicted: np.ndarray) -> Dict[str, Any]:
    """CERTIFY and PREDICT name the same class whenever neither abstains (each errs with probability <= alpha)."""
    both = (certified != bounds.ABSTAIN) & (predicted != bounds.ABSTAIN)
    disagree = both & (certified != predicted)
    return {"passed": not np.any(disagree), "compared": int(np.sum(both)), "disagreements": int(np.sum(disagree)),
            "detail": f"{int(np.sum(disagree))} of {int(np.sum(both))} examples where both answered got different "
                      "classes"}
