"""Exact L2 distance from every query to its nearest reference of another label, in tiles.

Each tile's squared distances come from one matrix product,
``|q|^2 + |r|^2 - 2 q.r`` (`robustkit.separation.kernels`):

- ``int8`` (uint8 images): exact integers. Each tile keeps, per query, the
  pairs at the query's smallest distance in the tile; the smallest of those
  over all tiles is the answer.
- ``float32``: each tile keeps, per query, the pairs within twice the proven
  rounding-error bound delta_q of the query's smallest computed distance in the
  tile (`robustkit.separation.bounds`). The true nearest neighbour is always
  among them, so recomputing the candidates near the overall smallest in
  float64 gives the exact nearest neighbour with no fallback pass; the
  recomputation also checks that no computed distance broke the bound.

The candidates (about one per query and reference tile: the query's nearest
in each tile) are returned too: they give the L-inf search a good first bound.
"""

import time
from typing import List, Optional

import numpy as np

from robustkit import progress
from robustkit.replicas import BatchMap
from robustkit.separation import bounds, kernels
from robustkit.separation.tiling import Arithmetic, Layout, Nearest, choose_arithmetic, flatten, same_points, \
    segment_best, unit_of


def _squared(queries: np.ndarray, refs: np.ndarray, qi: np.ndarray, ri: np.ndarray) -> np.ndarray:
    out = np.empty(len(qi))
    for start in range(0, len(qi), 65536):
        part = slice(start, start + 65536)
        diff = queries[qi[part]].astype(np.float64) - refs[ri[part]].astype(np.float64)
        out[part] = np.einsum("ij,ij->i", diff, diff)
    return out


def check_bound(computed: np.ndarray, exact: np.ndarray, delta: np.ndarray) -> None:
    """Fails loudly if the float32 products broke the error bound the search relies on."""
    if len(computed) and np.max(np.abs(computed - exact) - delta) > 0:
        raise FloatingPointError(
            f"a float32 squared distance was off by {np.abs(computed - exact).max():.6g}, more than the proven "
            "bound; the matrix product does not run in IEEE float32 here (is reduced-precision math enabled, "
            "e.g. ONEDNN_DEFAULT_FPMATH_MODE?); use arithmetic: int8 for uint8 images")


class _Rows:
    """The sorted rows of one side (queries or references) in the form a kernel takes."""

    def __init__(self, values: np.ndarray, labels: np.ndarray, mode: str, layout: Layout, tiles, u_in: float = 0.0):
        if mode == "int8":
            self.rows = (values.astype(np.int16) - 128).astype(np.int8)
            wide = self.rows.astype(np.int32)
            self.norm = np.einsum("ij,ij->i", wide, wide)
            self.slack = None
        else:
            self.rows = values.astype(np.float32)
            norm64 = np.einsum("ij,ij->i", self.rows.astype(np.float64), self.rows.astype(np.float64))
            self.norm = norm64.astype(np.float32)
            self.norm64 = norm64
            self.u_in = u_in
        self.labels = labels
        self.tiles = [(a, b, layout.pad(self.rows[a:b]), layout.pad(self.norm[a:b]), layout.pad(labels[a:b], -1))
                      for a, b in tiles]

    def set_delta(self, length: int, other_norm_max: float) -> None:
        """delta per row against the other side's largest norm, and the slack (2 delta) the kernels take."""
        self.delta = bounds.squared_distance_error(length, self.norm64, other_norm_max, self.u_in)
        self.slack = bounds.round_up_float32(2.0 * self.delta)


def nearest_l2(queries: np.ndarray, query_labels, refs: np.ndarray, ref_labels, tile_size: int = 2048,
               arithmetic: Arithmetic = "auto", batch_map: Optional[BatchMap] = None) -> Nearest:
    """Exact L2 distance of every query to its nearest reference of another label.

    Args:
      queries, refs: ``[N, ...]`` uint8 images (distances in pixel units of
        [0, 1]) or float arrays (taken as float32; distances in their units).
      query_labels, ref_labels: integer labels.
      tile_size: queries and references per tile.
      arithmetic: auto, int8 or float32.
      batch_map: whose replicas share the tile pairs, one pair each at a time
        (None: one device). Every pair is computed as on one device.
    """
    started = time.perf_counter()
    batch_map = batch_map or BatchMap()
    symmetric = same_points(queries, query_labels, refs, ref_labels)
    queries, refs = flatten(queries), flatten(refs)
    mode = choose_arithmetic(queries, refs, arithmetic)
    layout = Layout(query_labels, ref_labels, tile_size, symmetric)
    u_in = max(bounds.input_roundoff(queries), bounds.input_roundoff(refs)) if mode == "float32" else 0.0
    q = _Rows(queries[layout.q_order], layout.q_labels, mode, layout, layout.q_tiles, u_in)
    r = q if symmetric else _Rows(refs[layout.r_order], layout.r_labels, mode, layout, layout.r_tiles, u_in)
    if mode == "float32":
        q.set_delta(queries.shape[1], r.norm64.max(initial=0.0))
        if r is not q:
            r.set_delta(queries.shape[1], q.norm64.max(initial=0.0))
    found: List[tuple] = []

    def tile_pair(*args):  # Runs eagerly on a replica; the last argument says whether columns count.
        columns = bool(args[-1])
        if mode == "int8":
            return kernels.l2_int8(*args[:-1], columns)
        return kernels.l2_float32(*args[:-1], columns)

    pairs_of_tiles = list(layout.pairs())
    work = []
    for i, j, columns in pairs_of_tiles:
        (q0, q1, qt, qn, ql), (r0, r1, rt, rn, rl) = q.tiles[i], r.tiles[j]
        if mode == "int8":
            work.append((qt, qn, ql, rt, rn, rl, np.array(columns)))
        else:
            work.append((qt, qn, ql, layout.pad(q.slack[q0:q1]), rt, rn, rl, layout.pad(r.slack[r0:r1]),
                         np.array(columns)))
    stage = progress.Stage(f"l2 separation ({len(queries)} x {len(refs)})", len(pairs_of_tiles), "tile pairs")
    for (i, j, columns), (d, q_keep, r_keep) in zip(pairs_of_tiles, batch_map.imap(tile_pair, work)):
        stage.advance(1)
        q0, r0 = q.tiles[i][0], r.tiles[j][0]
        rows, cols = np.nonzero(q_keep)
        found.append((rows + q0, cols + r0, d[rows, cols]))
        if columns:
            rows, cols = np.nonzero(r_keep)
            found.append((cols + r0, rows + q0, d[rows, cols]))
    stage.close()
    tiles = len(pairs_of_tiles)
    qi = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
    ri = np.concatenate([f[1] for f in found]) if found else np.zeros(0, np.int64)
    value = np.concatenate([f[2] for f in found]).astype(np.float64) if found else np.zeros(0)
    candidates = (qi, ri)
    if mode == "float32":
        smallest = np.full(len(queries), np.inf)
        np.minimum.at(smallest, qi, value)
        near = value <= smallest[qi] + 2.0 * q.delta[qi] * (1 + 1e-6)
        qi, ri, value = qi[near], ri[near], value[near]
        exact = _squared(q.rows, r.rows, qi, ri)
        check_bound(value, exact, q.delta[qi])
        value = exact
    best, index = segment_best(qi, ri, value, len(queries))
    distance, index = layout.unsort(np.sqrt(best) / unit_of(refs), index)
    stats = {"arithmetic": mode, "tile_size": layout.tile, "symmetric": symmetric, "tiles": tiles,
             "tiles_skipped": layout.skipped, "candidates": int(len(candidates[0])),
             "recomputed": int(len(qi)) if mode == "float32" else 0,
             "seconds": time.perf_counter() - started}
    return Nearest(distance, index, stats, (layout.q_order[candidates[0]], layout.r_order[candidates[1]]))
