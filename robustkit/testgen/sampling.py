"""Points drawn within a radius of a centre, in L2 or L-inf balls (numpy, seeded).

``uniform``: uniform in the open ball (L2: a Gaussian direction scaled by
``radius * U^(1/k)``; L-inf: uniform per coordinate). ``truncated_gaussian``:
``N(centre, s^2 I)`` restricted to the open ball by rejection, with ``s``
chosen so that a typical draw lies ``sigma * radius`` from the centre
(``s = sigma * radius / sqrt(k)`` for L2, ``sigma * radius`` per coordinate
for L-inf).
"""

from typing import Literal

import numpy as np

Norm = Literal["l2", "linf"]
Distribution = Literal["uniform", "truncated_gaussian"]
MAX_REJECTION_ROUNDS = 64


def norms(offsets: np.ndarray, norm: Norm) -> np.ndarray:
    """Row norms of ``[N, ...]`` offsets, float64."""
    offsets = np.asarray(offsets, np.float64)
    flat = offsets.reshape(len(offsets), int(np.prod(offsets.shape[1:])))
    if norm == "l2":
        return np.sqrt(np.einsum("ij,ij->i", flat, flat))
    return np.abs(flat).max(axis=1, initial=0.0)


def _uniform(rng: np.random.Generator, count: int, dim: int, radius: np.ndarray, norm: Norm) -> np.ndarray:
    if norm == "linf":
        return rng.uniform(-1.0, 1.0, size=(count, dim)) * radius[:, None]
    direction = rng.standard_normal((count, dim))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
    return direction * (radius * rng.uniform(size=count) ** (1.0 / dim))[:, None]


def offsets(rng: np.random.Generator, count: int, dim: int, radius, norm: Norm,
            distribution: Distribution = "uniform", sigma: float = 0.5) -> np.ndarray:
    """``count`` offsets ``[count, dim]`` (float64) strictly inside balls of ``radius``.

    Args:
      rng: the generator.
      count: offsets drawn.
      dim: their dimension.
      radius: a radius, or one per offset ``[count]``.
      norm: l2 or linf.
      distribution: uniform or truncated_gaussian.
      sigma: truncated_gaussian's typical distance as a fraction of the radius.
    """
    radius = np.broadcast_to(np.asarray(radius, np.float64), (count,)).copy()
    if distribution == "uniform":
        out = _uniform(rng, count, dim, radius, norm)
    else:
        scale = sigma * radius / (np.sqrt(dim) if norm == "l2" else 1.0)
        out = np.zeros((count, dim))
        todo = np.arange(count)
        for _ in range(MAX_REJECTION_ROUNDS):
            if not len(todo):
                break
            draw = rng.standard_normal((len(todo), dim)) * scale[todo, None]
            inside = norms(draw, norm) < radius[todo]
            out[todo[inside]] = draw[inside]
            todo = todo[~inside]
        if len(todo):  # Only for sigma far above 1: fall back to uniform draws.
            out[todo] = _uniform(rng, len(todo), dim, radius[todo], norm)
    outside = norms(out, norm) >= radius
    out[outside] *= 0.5  # A draw on the sphere itself has probability 0; keep the ball open regardless.
    return out
