"""A rigorous bound on the float32 error of squared distances computed as ``|q|^2 + |r|^2 - 2 q.r``.

Notation: u = 2^-24 (float32 unit round-off), n the vector length, s = |q|^2,
t = |r|^2, c = q.r, gamma_n = n u / (1 - n u) (Higham, "Accuracy and
Stability of Numerical Algorithms", 2002, section 3.1).

- The norms are summed in float64 and rounded once to float32:
  |s^ - s| <= u s, |t^ - t| <= u t.
- A float32 dot product of length n, summed in any order (blocked, split over
  threads, with or without fused multiply-add) satisfies
  |c^ - c| <= gamma_n sum_i |q_i r_i| <= gamma_n sqrt(s t) <= gamma_n (s + t) / 2
  (Cauchy-Schwarz). Doubling it is exact.
- The three-term sum s^ + t^ - 2 c^ takes two roundings in whatever order it
  is evaluated; every partial sum is at most 2 (s + t) in magnitude
  (|2c| <= s + t), so each adds at most 2 u (s + t).

Together |d^ - d| <= (gamma_n + 5 u + O(u^2)) (s + t). The bound used is
``delta = 1.01 (gamma_n + 6 u + 2.01 u_in) (s + t)``, where ``u_in`` is the
relative rounding of the matrix-product inputs: 0 on CPUs, 2^-10 where a GPU
runs float32 products in TensorFloat-32 (10 mantissa bits). Integer-valued
inputs of at most 11 bits are exact in TF32, so ``u_in = 0`` for them.

Given per-query deltas, the true nearest neighbour j* of q is among the pairs
whose computed distance is within ``2 delta_q`` of the smallest computed one:
d^(j*) <= d(j*) + delta <= d(j) + delta <= d^(j) + 2 delta for every j. The
search keeps those pairs and recomputes them in float64, which makes the
result exact without a fallback pass.
"""

import math

import numpy as np
import tensorflow as tf

UNIT_ROUNDOFF = 2.0 ** -24
TF32_ROUNDOFF = 2.0 ** -10


def gamma(n: int, u: float = UNIT_ROUNDOFF) -> float:
    """Higham's gamma_n = n u / (1 - n u)."""
    if n * u >= 1.0:
        raise ValueError(f"vectors of length {n} are too long for a float32 error bound")
    return n * u / (1.0 - n * u)


def tf32_active() -> bool:
    """Whether float32 matrix products may run in TensorFloat-32 here (a GPU with TF32 enabled)."""
    return bool(tf.config.list_logical_devices("GPU")) and tf.config.experimental.tensor_float_32_execution_enabled()


def input_roundoff(values: np.ndarray) -> float:
    """The relative rounding of ``values`` on their way into a float32 matrix product."""
    if not tf32_active():
        return 0.0
    if np.issubdtype(values.dtype, np.integer) and int(np.abs(values).max(initial=0)) < 2 ** 11:
        return 0.0
    return TF32_ROUNDOFF


def squared_distance_error(length: int, q_norms: np.ndarray, r_norm_max: float, u_in: float = 0.0) -> np.ndarray:
    """delta_q: a bound on |computed - exact| squared distance from query q to any reference.

    Args:
      length: n, the vector length.
      q_norms: float64 ``[Q]`` exact squared norms of the queries.
      r_norm_max: the largest squared norm among the references.
      u_in: the relative rounding of the matrix-product inputs (`input_roundoff`).

    Returns:
      float64 ``[Q]``.
    """
    factor = 1.01 * (gamma(length) + 6.0 * UNIT_ROUNDOFF + 2.01 * u_in)
    return factor * (np.asarray(q_norms, np.float64) + float(r_norm_max))


def round_up_float32(values: np.ndarray) -> np.ndarray:
    """float64 -> the smallest float32 values not below them."""
    out = np.asarray(values, np.float64).astype(np.float32)
    low = out.astype(np.float64) < values
    out[low] = np.nextafter(out[low], np.float32(math.inf))
    return out
