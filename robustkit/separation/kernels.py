"""The TensorFlow kernels of the exact nearest-neighbour search: one tile of queries against one tile of references.

Every kernel works on fixed tile shapes (the last tiles are padded), so each
compiles once; padding carries the label -1 and pairs with padding are masked,
as are same-label pairs, so a point is never its own neighbour. Plain
TensorFlow ops place themselves on a GPU when there is one.

With ``columns=True`` (train-train, where queries and references are the same
points) a tile pair (I, J) also serves the points of J as queries, so each
pair of tiles is computed once instead of twice.

Arithmetic:

- ``int8``: uint8 images shifted by -128 into int8, an int8 x int8 -> int32
  matrix product (XLA), so ``|q|^2 + |r|^2 - 2 q.r`` is the exact squared
  distance in integer pixel units (at most ``D * 255^2 < 2^31``). L-inf
  differences are taken in int16.
- ``float32``: the same expansion in float32 (with a rounding-error bound,
  `robustkit.separation.bounds`); L-inf differences in float32, which the
  caller recomputes in float64 for the pairs that survive.
"""

import functools
from typing import Sequence, Tuple

import tensorflow as tf

INT32_MAX = 2 ** 31 - 1


def _other(q_label, r_label):
    return tf.not_equal(q_label[:, None], r_label[None, :]) & (q_label[:, None] >= 0) & (r_label[None, :] >= 0)


def _l2(d, other, masked, q_slack, r_slack, columns):
    d = tf.where(other, d, masked)
    q_keep = other & (d <= _threshold(tf.reduce_min(d, axis=1), q_slack)[:, None])
    if not columns:
        return d, q_keep, q_keep
    return d, q_keep, other & (d <= _threshold(tf.reduce_min(d, axis=0), r_slack)[None, :])


def _threshold(minimum, slack):
    if slack is None:
        return minimum
    threshold = minimum + slack
    return threshold + 4e-7 * tf.abs(threshold)  # Covers the rounding of this sum.


@tf.function(jit_compile=True)
def l2_int8(q, q_norm, q_label, r, r_norm, r_label, columns=False):
    """Exact squared L2 distances of a tile in int8 -> int32, and each query's nearest pairs in the tile.

    Args:
      q, r: int8 ``[Q, D]``, ``[R, D]`` (pixel values minus 128).
      q_norm, r_norm: int32 squared norms of the rows.
      q_label, r_label: int32 labels (-1: padding).
      columns: also treat the references as queries.

    Returns:
      ``(d, q_keep, r_keep)``: the distances (`INT32_MAX` where masked), and
      bool ``[Q, R]`` masks of the pairs at the smallest distance of their
      query's row (of their reference's column, with ``columns``) in this tile.
    """
    d = q_norm[:, None] + r_norm[None, :] - 2 * tf.linalg.matmul(q, r, transpose_b=True, output_type=tf.int32)
    return _l2(d, _other(q_label, r_label), INT32_MAX, None, None, columns)


@tf.function(jit_compile=True)
def l2_float32(q, q_norm, q_label, q_slack, r, r_norm, r_label, r_slack, columns=False):
    """Squared L2 distances of a tile in float32, and the pairs that may be each query's nearest in the tile.

    Args:
      q, r: float32 rows.
      q_norm, r_norm: float32 squared norms (computed in float64, rounded once).
      q_label, r_label: int32 labels (-1: padding).
      q_slack, r_slack: float32, twice the error bound of each row's distances, rounded up.
      columns: also treat the references as queries.

    Returns:
      As `l2_int8`, but a kept pair lies within ``slack`` of the row's (the
      column's) smallest computed distance: the tile's true nearest neighbour
      is always among them (`robustkit.separation.bounds`).
    """
    d = q_norm[:, None] + r_norm[None, :] - 2.0 * tf.linalg.matmul(q, r, transpose_b=True)
    return _l2(d, _other(q_label, r_label), float("inf"), q_slack, r_slack, columns)


@tf.function(jit_compile=True)
def linf_dense(q_head, q_label, q_bound, r_head, r_label, r_bound, strict=True, columns=False):
    """L-inf over the first pixels of every pair of a tile, and the pairs still below their bound.

    The running maximum is one chain of elementwise ``[Q, R]`` operations,
    one per pixel, which XLA fuses into a single pass without materialising
    a ``[Q, R, pixels]`` array.

    Args:
      q_head, r_head: the rows' first pixels, transposed: ``[pixels, Q]``, ``[pixels, R]`` (int16 or float32).
      q_label, r_label: int32 labels (-1: padding).
      q_bound, r_bound: each row's current bound U.
      strict: a pair survives below the bound (exact arithmetic), else at most at it.
      columns: a pair survives below the larger of its two bounds.

    Returns:
      ``(running max [Q, R], alive [Q, R])``.
    """
    run = tf.abs(q_head[0][:, None] - r_head[0][None, :])
    for p in range(1, q_head.shape[0]):
        run = tf.maximum(run, tf.abs(q_head[p][:, None] - r_head[p][None, :]))
    bound = tf.maximum(q_bound[:, None], r_bound[None, :]) if columns else q_bound[:, None]
    return run, _other(q_label, r_label) & (run < bound if strict else run <= bound)


@functools.lru_cache(maxsize=16)
def make_linf_refine(bounds: Tuple[int, ...], dtype: tf.DType, strict: bool):
    """A compiled function that finishes the L-inf distances of a list of pairs, pruning as it goes.

    Pixels ``bounds[0]:bounds[1]``, ``bounds[1]:bounds[2]``, ... are read chunk
    by chunk; after each chunk the pairs whose running maximum already reaches
    their limit are dropped (they cannot be nearer than the neighbour that set
    it). The pairs left after the last chunk hold their exact L-inf distance,
    below (``strict``) or at most (not strict) their limit.

    Args:
      bounds: chunk boundaries over the (variance-ordered) pixel axis.
      dtype: the element type of the rows.
      strict: drop pairs at the limit too (exact integer arithmetic); otherwise
        keep ties, which the caller resolves in float64.

    Returns:
      ``refine(q, r, qi, ri, run, limit) -> (qi, ri, run)``.
    """
    edges: Sequence[int] = tuple(bounds)
    spec = [tf.TensorSpec([None, None], dtype), tf.TensorSpec([None, None], dtype),
            tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], dtype),
            tf.TensorSpec([None], dtype)]

    @tf.function(input_signature=spec)
    def refine(q, r, qi, ri, run, limit):
        for start, stop in zip(edges[:-1], edges[1:]):
            a = tf.gather(q[:, start:stop], qi)
            b = tf.gather(r[:, start:stop], ri)
            run = tf.maximum(run, tf.reduce_max(tf.abs(a - b), axis=1))
            keep = run < limit if strict else run <= limit
            qi, ri = tf.boolean_mask(qi, keep), tf.boolean_mask(ri, keep)
            run, limit = tf.boolean_mask(run, keep), tf.boolean_mask(limit, keep)
        return qi, ri, run

    return refine
