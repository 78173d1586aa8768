"""What the L2 and L-inf searches share: the result type, row flattening, the arithmetic choice and the tiling.

`Layout` sorts queries and references by label, so tile pairs that hold one
label only are skipped, and puts results back in the callers' order. When the
queries are the references (train-train), each pair of tiles is computed once
and serves both as queries. `robustkit.separation.l2` and
`robustkit.separation.linf` build on these; `robustkit.separation.exact` is the
front door.
"""

import dataclasses
from typing import Any, Dict, Iterator, Literal, Optional, Tuple

import numpy as np
import tensorflow as tf

Arithmetic = Literal["auto", "int8", "float32"]


@dataclasses.dataclass
class Nearest:
    """Per query: the distance to the nearest differently-labelled reference, and that reference.

    Attributes:
      distance: float64 ``[Q]`` in the data's units (pixel units of [0, 1] for
        uint8 images); +inf where no reference has another label.
      index: int64 ``[Q]``, the reference's row (-1 where there is none); among
        equally near references, one chosen deterministically.
      stats: how the work went (arithmetic, tiles computed and skipped, pairs kept, seconds).
      candidates: L2 only: ``(query rows, reference rows)`` of the pairs each
        tile kept (every query's nearest reference in every tile); they start
        the L-inf search.
    """

    distance: np.ndarray
    index: np.ndarray
    stats: Dict[str, Any]
    candidates: Optional[Tuple[np.ndarray, np.ndarray]] = None


def flatten(values: np.ndarray) -> np.ndarray:
    """``[N, ...]`` -> ``[N, D]``: uint8 images stay uint8 (exact integer arithmetic), the rest become float32."""
    values = np.asarray(values)
    values = values.reshape(len(values), int(np.prod(values.shape[1:])))
    return values if values.dtype in (np.uint8, np.float32) else values.astype(np.float32)


def unit_of(values: np.ndarray) -> float:
    """Stored values per unit of distance: 255 for uint8 images (pixel units of [0, 1]), 1 otherwise."""
    return 255.0 if values.dtype == np.uint8 else 1.0


def choose_arithmetic(queries: np.ndarray, refs: np.ndarray, arithmetic: Arithmetic = "auto") -> str:
    """``int8`` for uint8 rows of fewer than 33,025 values on a CPU, else ``float32``.

    Raises:
      ValueError: for ``int8`` on data that is not uint8 or whose squared
        distances could overflow int32.
    """
    fits = queries.dtype == refs.dtype == np.uint8 and refs.shape[1] * 255 ** 2 < 2 ** 31
    if arithmetic == "int8" and not fits:
        raise ValueError(f"int8 arithmetic needs uint8 rows of fewer than 33,025 values; got {refs.dtype} "
                         f"rows of {refs.shape[1]}")
    if arithmetic == "auto":
        return "int8" if fits and not tf.config.list_logical_devices("GPU") else "float32"
    return arithmetic


def same_points(queries: np.ndarray, query_labels, refs: np.ndarray, ref_labels) -> bool:
    """Whether queries and references are the same labelled points (train-train)."""
    if queries is refs:
        return np.array_equal(query_labels, ref_labels)
    return (queries.shape == refs.shape and np.array_equal(query_labels, ref_labels)
            and np.array_equal(queries, refs))


class Layout:
    """Queries and references sorted by label and cut into ``tile`` rows, padded with label -1.

    Args:
      query_labels, ref_labels: integer labels.
      tile_size: rows per tile.
      symmetric: queries and references are the same points: only tile pairs
        (I, J) with I <= J are visited.
    """

    def __init__(self, query_labels, ref_labels, tile_size: int, symmetric: bool):
        self.symmetric = symmetric
        self.q_order = np.argsort(query_labels, kind="stable")
        self.r_order = self.q_order if symmetric else np.argsort(ref_labels, kind="stable")
        self.q_labels = np.asarray(query_labels)[self.q_order].astype(np.int32)
        self.r_labels = np.asarray(ref_labels)[self.r_order].astype(np.int32)
        self.tile = max(1, min(tile_size, max(len(self.q_labels), len(self.r_labels))))
        self.q_tiles = [(s, min(s + self.tile, len(self.q_labels))) for s in range(0, len(self.q_labels), self.tile)]
        self.r_tiles = [(s, min(s + self.tile, len(self.r_labels))) for s in range(0, len(self.r_labels), self.tile)]
        self.skipped = 0

    def pad(self, rows: np.ndarray, fill=0) -> tf.Tensor:
        """A tile's rows padded to the tile size, as a tensor."""
        if len(rows) < self.tile:
            pad = np.full((self.tile - len(rows),) + rows.shape[1:], fill, dtype=rows.dtype)
            rows = np.concatenate([rows, pad])
        return tf.constant(rows)

    def _one_label(self, labels: np.ndarray):
        return int(labels[0]) if len(labels) and labels[0] == labels[-1] else None  # Sorted: first == last.

    def pairs(self) -> Iterator[Tuple[int, int, bool]]:
        """``(query tile, reference tile, columns)``; ``columns``: the pair also serves the references as queries."""
        self.skipped = 0
        for i, (q0, q1) in enumerate(self.q_tiles):
            for j, (r0, r1) in enumerate(self.r_tiles):
                if self.symmetric and j < i:
                    continue
                one = self._one_label(self.q_labels[q0:q1])
                if one is not None and one == self._one_label(self.r_labels[r0:r1]):
                    self.skipped += 1
                    continue
                yield i, j, self.symmetric and j > i

    def unsort(self, value: np.ndarray, index: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per-query results of the sorted order -> the callers' order (indices into the callers' references)."""
        out_value = np.empty_like(value)
        out_value[self.q_order] = value
        out_index = np.full(len(index), -1, np.int64)
        out_index[self.q_order] = np.where(index >= 0, self.r_order[np.maximum(index, 0)], -1)
        return out_value, out_index


def segment_best(rows: np.ndarray, refs: np.ndarray, value: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Per row: the smallest value and, among its ties, the lowest reference (inf and -1 for rows without any)."""
    best = np.full(count, np.inf)
    np.minimum.at(best, rows, value)
    index = np.full(count, np.iinfo(np.int64).max)
    tie = value == best[rows]
    np.minimum.at(index, rows[tie], refs[tie])
    index[~np.isfinite(best)] = -1
    return best, index
