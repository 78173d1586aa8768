"""Exact L-inf distance from every query to its nearest reference of another label, by pruning.

In the spirit of early termination: each query starts with the bound U = its
smallest L-inf distance to a few good neighbours (its L2 nearest in every
reference tile, which the L2 search hands over). For every tile pair, the
largest difference over the ``DENSE_PIXELS`` highest-variance pixels is taken
for all pairs at once (one fused kernel); the pairs already at U or beyond are
dropped, since an L-inf distance is at least the largest difference over any
subset of pixels and so they cannot be nearer. The rest are finished chunk by
chunk (64, 128, 256, ... pixels), dropping pairs as they reach U. The pairs that
survive every pixel are nearer than U; they lower U before the next tile.
Nothing is approximated: a dropped pair's distance is at least U, which is at
least the answer.

uint8 images are compared exactly in int16 (ties at U are dropped). Float
rows are compared in float32, where subtraction is correctly rounded and so
monotone: ties at U are kept and the survivors' distances recomputed in
float64. For train-train, a tile pair serves both sides, and a pair survives
below the larger of its two bounds.
"""

import time
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from robustkit import progress
from robustkit.separation import kernels
from robustkit.separation.tiling import Arithmetic, Layout, Nearest, choose_arithmetic, flatten, same_points, \
    segment_best, unit_of

DENSE_PIXELS = 32  # Pixels read for every pair before the pair list is compacted.
FIRST_CHUNK = 64  # The first chunk after those; each following chunk is twice as long.


def chunks(length: int) -> Tuple[int, ...]:
    """Chunk boundaries over the pixel axis: ``DENSE_PIXELS``, then 64, 128, 256, ... pixels more."""
    edges, step, at = [min(DENSE_PIXELS, length)], FIRST_CHUNK, min(DENSE_PIXELS, length)
    while at < length:
        at = min(length, at + step)
        edges.append(at)
        step *= 2
    return tuple(edges)


def pixel_order(refs: np.ndarray) -> np.ndarray:
    """Pixels by decreasing variance over (a sample of) the references; any order gives the same distances."""
    sample = refs[:: max(1, len(refs) // 10000)].astype(np.float32)
    return np.argsort(-sample.var(axis=0), kind="stable") if len(sample) else np.arange(refs.shape[1])


def _linf64(queries: np.ndarray, refs: np.ndarray, qi: np.ndarray, ri: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """L-inf of the pairs ``(queries[qi], refs[ri])`` in float64, a chunk of pairs at a time."""
    out = np.empty(len(qi))
    for start in range(0, len(qi), chunk):
        part = slice(start, start + chunk)
        diff = queries[qi[part]].astype(np.float64) - refs[ri[part]].astype(np.float64)
        out[part] = np.abs(diff).max(axis=1, initial=0.0)
    return out


class _Side:
    """One side's sorted rows (pixels in variance order), its bounds, best distances and neighbours."""

    def __init__(self, values: np.ndarray, labels: np.ndarray, dtype, layout: Layout, tiles, head: int):
        self.values = values
        self.rows = values.astype(dtype)
        self.best = np.full(len(values), np.inf)
        self.index = np.full(len(values), -1, np.int64)
        self.bound = np.full(len(values), np.iinfo(np.int16).max if dtype == np.int16 else np.finfo(np.float32).max,
                             dtype)
        self.tiles = []
        for a, b in tiles:
            rows = layout.pad(self.rows[a:b])
            self.tiles.append((a, b, rows, tf.transpose(rows[:, :head]), layout.pad(labels[a:b], -1)))

    def update(self, rows: np.ndarray, refs: np.ndarray, value: np.ndarray, other: "_Side") -> None:
        """Takes the nearer of each row's current neighbour and the survivors ``(rows, refs, value)``."""
        if not len(rows):
            return
        unique, local = np.unique(rows, return_inverse=True)
        best, index = segment_best(local, refs, value, len(unique))
        better = (best < self.best[unique]) | ((best == self.best[unique]) & (index < self.index[unique]))
        rows, index = unique[better], index[better]
        self.best[rows], self.index[rows] = best[better], index
        self.bound[rows] = np.abs(self.rows[rows] - other.rows[index]).max(axis=1)


def nearest_linf(queries: np.ndarray, query_labels, refs: np.ndarray, ref_labels,
                 start: Optional[Tuple[np.ndarray, np.ndarray]] = None, tile_size: int = 2048,
                 arithmetic: Arithmetic = "auto") -> Nearest:
    """Exact L-inf distance of every query to its nearest reference of another label.

    Args:
      queries, query_labels, refs, ref_labels, tile_size, arithmetic: as in
        `robustkit.separation.l2.nearest_l2`.
      start: ``(query rows, reference rows)`` of differently labelled pairs
        whose distances start the bounds (`robustkit.separation.l2` hands over
        its candidates); None starts every bound at infinity.
    """
    started = time.perf_counter()
    symmetric = same_points(queries, query_labels, refs, ref_labels)
    queries, refs = flatten(queries), flatten(refs)
    mode = choose_arithmetic(queries, refs, arithmetic)
    strict = queries.dtype == refs.dtype == np.uint8  # Integer pixel values: every difference is exact.
    dtype = np.int16 if mode == "int8" else np.float32
    layout = Layout(query_labels, ref_labels, tile_size, symmetric)
    order = pixel_order(refs)
    edges = chunks(queries.shape[1])
    q = _Side(queries[layout.q_order][:, order], layout.q_labels, dtype, layout, layout.q_tiles, edges[0])
    r = q if symmetric else _Side(refs[layout.r_order][:, order], layout.r_labels, dtype, layout, layout.r_tiles,
                                  edges[0])
    if start is not None and len(start[0]):
        q_rank, r_rank = np.empty_like(layout.q_order), np.empty_like(layout.r_order)
        q_rank[layout.q_order], r_rank[layout.r_order] = np.arange(len(q_rank)), np.arange(len(r_rank))
        rows, cols = q_rank[np.asarray(start[0])], r_rank[np.asarray(start[1])]
        q.update(rows, cols, _linf64(q.values, r.values, rows, cols), r)
    refine = kernels.make_linf_refine(edges, tf.as_dtype(dtype), strict)
    stats = {"arithmetic": mode, "tile_size": layout.tile, "symmetric": symmetric, "tiles": 0,
             "dense_pixels": edges[0], "pairs_after_dense": 0, "pairs_exact": 0}
    pairs_of_tiles = list(layout.pairs())
    stage = progress.Stage(f"linf separation ({len(queries)} x {len(refs)})", len(pairs_of_tiles), "tile pairs")
    for i, j, columns in pairs_of_tiles:
        stage.advance(1)
        stats["tiles"] += 1
        (q0, q1, qt, q_head, ql), (r0, r1, rt, r_head, rl) = q.tiles[i], r.tiles[j]
        q_bound, r_bound = layout.pad(q.bound[q0:q1]), layout.pad(r.bound[r0:r1])
        run, alive = kernels.linf_dense(q_head, ql, q_bound, r_head, rl, r_bound, strict, columns)
        pairs = tf.cast(tf.where(alive), tf.int32)
        stats["pairs_after_dense"] += int(pairs.shape[0])
        if not pairs.shape[0]:
            continue
        qi, ri = pairs[:, 0], pairs[:, 1]
        limit = tf.gather(q_bound, qi)
        if columns:
            limit = tf.maximum(limit, tf.gather(r_bound, ri))
        qi, ri, value = refine(qt, rt, qi, ri, tf.gather_nd(run, pairs), limit)
        qi, ri = qi.numpy().astype(np.int64) + q0, ri.numpy().astype(np.int64) + r0
        stats["pairs_exact"] += len(qi)
        exact = value.numpy().astype(np.float64) if strict else _linf64(q.values, r.values, qi, ri)
        q.update(qi, ri, exact, r)
        if columns:
            r.update(ri, qi, exact, q)
    stage.close()
    distance, index = layout.unsort(q.best / unit_of(refs), q.index)
    stats.update({"tiles_skipped": layout.skipped, "seconds": time.perf_counter() - started})
    return Nearest(distance, index, stats)
