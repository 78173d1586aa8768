"""Measures a trained VAE or CVAE: ELBO terms, perturbation-set quality, closure and rotation.

Every function returns plain floats (or dicts of them) for ``metrics.json``.
The perturbation-set measures follow Wong & Kolter, "Learning perturbation sets
for robust machine learning" (2020), with z normalised by the prior,
``u = (z - mu_p(x)) / sigma_p(x)``:

- coverage at radius r: the share of true pairs whose recognition mean lies in
  the ball, ``||(mu_q(x, x') - mu_p(x)) / sigma_p(x)|| <= r``;
- approximation error at r: the mean squared pixel error of the best
  reconstruction of x' inside the ball, ``min_{||u|| <= r} ||g(x, mu_p + sigma_p
  u) - x'||^2``, found by projected gradient descent from the projected
  recognition code.

Closure (the 1-D rotation design), with P(x, y) the recognition mean and Q the
generator: ``Q(x, P(x, y)) ~ y``; ``Q(Q(x, P(x, y)), P(y, z)) ~ Q(x, P(x, z))``;
and ``Q(Q(x, P(x, y)), P(x, y)) ~ Q(x, P(x, z))`` when z is y's perturbation
applied twice (x rotated by 2 theta). All are mean squared errors per pixel,
beside the error of doing nothing (``x`` against ``y``).
"""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from robustkit.data import corruptions
from robustkit.data.pairs import Pairs
from robustkit.generative.perturbation import latent_pgd, project

BATCH = 250


def as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def _batched(fn, *arrays, batch: int = BATCH) -> np.ndarray:
    parts = [np.asarray(fn(*(a[i:i + batch] for a in arrays))) for i in range(0, len(arrays[0]), batch)]
    return np.concatenate(parts)


def _mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mean((np.asarray(a) - np.asarray(b)) ** 2, axis=(1, 2, 3))


def split_terms(model, dataset, steps=None) -> Dict[str, float]:
    """Mean loss, reconstruction and KL (and -ELBO for a VAE) per example, in nats, in inference mode."""
    return {k: float(v) for k, v in model.evaluate(dataset, steps=steps, return_dict=True, verbose=0).items()}


def pair_arrays(pairs: Pairs, limit: int) -> Dict[str, np.ndarray]:
    """The first ``limit`` pairs as floats; bundles give both of their pairs (x, x1) and (x, x2)."""
    clean, perturbed = as_float(pairs.clean[:limit]), as_float(pairs.corrupted[:limit])
    if pairs.is_bundle:
        clean = np.concatenate([clean, clean])
        perturbed = np.concatenate([perturbed, as_float(pairs.corrupted2[:limit])])
    return {"image": clean, "perturbed": perturbed}


def normalised_codes(cvae, images: np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """``(mu_q(x, x') - mu_p(x)) / sigma_p(x)`` per pair, ``[N, k]``."""
    def codes(x, y):
        prior = cvae.prior(x)
        return (cvae.encode(x, y) - prior.mean()) / prior.stddev()

    return _batched(codes, images, perturbed)


def coverage(distances: np.ndarray, radii: Sequence[float]) -> Dict[str, float]:
    """The share of pairs whose normalised latent distance lies within each radius."""
    return {f"{r:g}": float(np.mean(distances <= r)) for r in radii}


def approximation_error(cvae, images: np.ndarray, perturbed: np.ndarray, codes: np.ndarray,
                        radii: Sequence[float], steps: int, step_size=None) -> Dict[str, float]:
    """Per radius, the mean squared pixel error of the best reconstruction of x' inside the ball."""
    @tf.function(reduce_retracing=True)
    def best(x, y, u0, radius):
        prior = cvae.prior(x)
        mean, std = prior.mean(), prior.stddev()

        def negative_error(u):
            return -tf.reduce_mean(tf.square(cvae.generate(x, mean + std * u) - y), axis=[1, 2, 3])

        return -negative_error(latent_pgd(negative_error, project(u0, radius), radius, steps, step_size))

    result = {}
    for radius in radii:
        errors = _batched(lambda x, y, u0: best(x, y, u0, tf.constant(radius, tf.float32)), images, perturbed, codes)
        result[f"{radius:g}"] = float(np.mean(errors))
    return result


def perturbation_set_quality(cvae, pairs: Pairs, limit: int, radii: Sequence[float], steps: int,
                             step_size=None) -> Dict[str, object]:
    """Coverage and approximation-error tables and the distribution of normalised distances."""
    arrays = pair_arrays(pairs, limit)
    codes = normalised_codes(cvae, arrays["image"], arrays["perturbed"])
    distances = np.linalg.norm(codes, axis=-1)
    return {
        "coverage": coverage(distances, radii),
        "approximation_error": approximation_error(cvae, arrays["image"], arrays["perturbed"], codes, radii,
                                                   steps, step_size),
        "identity_error": float(np.mean(_mse(arrays["image"], arrays["perturbed"]))),
        "latent_distance_quantiles": {f"{q:g}": float(np.quantile(distances, q)) for q in (0.5, 0.9, 0.99, 1.0)},
        "pairs_evaluated": int(len(distances)),
    }


def closure(cvae, pairs: Pairs, limit: int) -> Dict[str, float]:
    """The closure errors of the module docstring (bundles: all three; pairs: the first)."""
    x, y = as_float(pairs.clean[:limit]), as_float(pairs.corrupted[:limit])
    qy = _batched(lambda a, b: cvae.generate(a, cvae.encode(a, b)), x, y)
    result = {"reconstruction_mse": float(np.mean(_mse(qy, y))), "identity_mse": float(np.mean(_mse(x, y)))}
    if not pairs.is_bundle:
        return result
    z = as_float(pairs.corrupted2[:limit])
    qz = _batched(lambda a, b: cvae.generate(a, cvae.encode(a, b)), x, z)
    chained = _batched(lambda q, a, b: cvae.generate(q, cvae.encode(a, b)), qy, y, z)
    twice = _batched(lambda q, a, b: cvae.generate(q, cvae.encode(a, b)), qy, x, y)
    result.update(
        chain_mse=float(np.mean(_mse(chained, qz))),
        chain_vs_target_mse=float(np.mean(_mse(chained, z))),
        linear_mse=float(np.mean(_mse(twice, qz))),
        linear_vs_target_mse=float(np.mean(_mse(twice, z))),
        identity_2theta_mse=float(np.mean(_mse(x, z))),
    )
    return result


def traversal_codes(mean: np.ndarray, std: np.ndarray, dim: int = 0, points: int = 11) -> np.ndarray:
    """``[B, points, k]`` codes from mean - std to mean + std along ``dim`` (the design's 11 steps)."""
    offsets = np.linspace(-1.0, 1.0, points, dtype=np.float32)
    codes = np.repeat(mean[:, None, :], points, axis=1)
    codes[:, :, dim] += offsets[None, :] * std[:, None, dim]
    return codes


def traversal_dimension(model, images: np.ndarray) -> int:
    """The latent dimension a traversal figure walks: 0 for a CVAE; a VAE's most used one.

    A VAE's most used dimension is the one whose posterior is narrowest on
    ``images`` (dimensions the model ignores keep q(z | x) close to N(0, 1)).
    """
    if hasattr(model, "generator_net"):
        return 0
    return int(np.argmin(np.mean(model.encode(images).stddev().numpy(), axis=0)))


def traversal(model, images: np.ndarray, dim: int = 0, points: int = 11) -> np.ndarray:
    """Decoded latent traversals ``[B, points, H, W, C]``.

    A CVAE traverses its prior p(z | x) from mu_p - sigma_p to mu_p + sigma_p; a
    VAE the posterior mean of x, from mu_q - 1 to mu_q + 1 (the prior's scale).
    """
    if hasattr(model, "generator_net"):
        prior = model.prior(images)
        codes = traversal_codes(prior.mean().numpy(), prior.stddev().numpy(), dim, points)
        tiled = np.repeat(images, points, axis=0)
        out = model.generate(tiled, codes.reshape(-1, codes.shape[-1])).numpy()
    else:
        mean = model.encode(images).mean().numpy()
        codes = traversal_codes(mean, np.ones_like(mean), dim, points)
        out = model.decode_mean(codes.reshape(-1, codes.shape[-1])).numpy()
    return out.reshape((len(images), points) + images.shape[1:])


def estimate_angles(clean: np.ndarray, images: np.ndarray, max_angle: float = 90.0) -> np.ndarray:
    """Per image of ``images`` ``[R, T, H, W, 1]``, the rotation of its row's clean image it matches best (degrees)."""
    grid = np.arange(-max_angle, max_angle + 0.5, 1.0)
    angles = np.zeros(images.shape[:2])
    for row, x in enumerate(clean):
        rotated = corruptions.rotate_batch(np.repeat(x[None], len(grid), axis=0), grid)
        errors = ((images[row][:, None] - rotated[None]) ** 2).mean(axis=(2, 3, 4))
        angles[row] = grid[np.argmin(errors, axis=1)]
    return angles


def is_monotonic(angles: Sequence[float], tolerance: float = 1.0) -> bool:
    """Whether a sequence never turns back by more than ``tolerance`` and moves at all."""
    steps = np.diff(np.asarray(angles, np.float64))
    rising, falling = np.all(steps >= -tolerance), np.all(steps <= tolerance)
    return bool((rising or falling) and abs(angles[-1] - angles[0]) > tolerance)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else 0.0


def rotation(cvae, pairs: Pairs, limit: int) -> Dict[str, object]:
    """How latent dimension 0 tracks theta, and whether traversals of the prior rotate monotonically.

    A CVAE may orient the code differently for different x (+u turns one image
    left, another right), so besides the raw correlation of the code of (x, x1)
    with theta this reports the correlation of |code| with |theta| and the
    correlation after orienting each code by the direction its traversal turns.
    ``code_ratio_median`` is the median of ``(mu2 - mu_p) / (mu1 - mu_p)`` over
    |theta| >= 5 degrees: 2 when the code of 2 theta is twice that of theta,
    which the linear-cost regulariser asks for.
    """
    x, y, z = (as_float(a[:limit]) for a in (pairs.clean, pairs.corrupted, pairs.corrupted2))
    u1, u2 = normalised_codes(cvae, x, y)[:, 0], normalised_codes(cvae, x, z)[:, 0]
    theta = pairs.theta[:limit].astype(np.float64)
    rows = min(limit, 100)
    angles = estimate_angles(x[:rows], traversal(cvae, x[:rows]))
    monotonic: List[bool] = [is_monotonic(a) for a in angles]
    turn = np.sign(angles[:, -1] - angles[:, 0])
    large = np.abs(theta) >= 5.0
    ratio = u2[large] / np.where(np.abs(u1[large]) > 1e-6, u1[large], 1e-6)
    return {
        "latent_theta_correlation": _correlation(u1, theta),
        "abs_latent_abs_theta_correlation": _correlation(np.abs(u1), np.abs(theta)),
        "oriented_latent_theta_correlation": _correlation(turn * u1[:rows], theta[:rows]),
        "code_ratio_median": float(np.median(ratio)) if len(ratio) else float("nan"),
        "traversal_monotonic_share": float(np.mean(monotonic)),
        "traversal_span_deg_median": float(np.median(np.abs(angles[:, -1] - angles[:, 0]))),
        "traversal_angles_deg": [[float(a) for a in row] for row in angles[:4]],
        "traversals_evaluated": rows,
    }
