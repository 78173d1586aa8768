"""Exact distance from every query to its nearest differently-labelled reference, in L2 and L-inf.

This is the measurement behind r-separation (Yang et al., "A Closer Look at
Accuracy vs. Robustness", NeurIPS 2020): a dataset is r-separated when
differently labelled points lie at least 2r apart, so r is half the smallest
such distance. Yang et al. found it with scikit-learn's brute-force
`NearestNeighbors`, one class at a time; here it is computed in tiles of
``tile_size`` queries by ``tile_size`` references, so memory stays bounded by
the tile and the same code runs on a GPU when TensorFlow sees one.

- L2: `robustkit.separation.l2` (matrix products; exact integers for uint8
  images, a proven float32 error bound and a float64 recomputation otherwise).
- L-inf: `robustkit.separation.linf` (exact, by pruning against the L-inf
  distance of each query's best L2 candidate).

Both tile the work with `robustkit.separation.tiling.Layout` and return
`robustkit.separation.tiling.Nearest` (importable from here too).
"""

import logging
from typing import Dict, Sequence

import numpy as np

from robustkit.separation import l2, linf
from robustkit.separation.tiling import Arithmetic, Nearest

log = logging.getLogger(__name__)

NORMS = ("l2", "linf")


def nearest_other_label(queries: np.ndarray, query_labels: Sequence[int], refs: np.ndarray,
                        ref_labels: Sequence[int], norms=NORMS, tile_size: int = 2048,
                        arithmetic: Arithmetic = "auto", batch_map=None) -> Dict[str, Nearest]:
    """The front door: `Nearest` per norm (``l2``, ``linf``); L-inf starts from the L2 neighbours.

    Pass the same array as queries and references for train-train separation:
    a point is never its own neighbour, since same-label pairs are masked.

    Args:
      queries, refs: ``[N, ...]`` uint8 images (distances in pixel units of
        [0, 1], exact) or float arrays (taken as float32; distances in their
        own units, exact nearest neighbours with float64 distances).
      query_labels, ref_labels: non-negative integer labels.
      norms: some of ``l2``, ``linf``.
      tile_size: queries and references per tile; memory grows with its square.
      arithmetic: auto, int8 or float32 (`robustkit.separation.kernels`).
      batch_map: a `robustkit.replicas.BatchMap` whose replicas share the L2
        tile pairs (None: one device); the L-inf search runs on one device.
    """
    unknown = sorted(set(norms) - set(NORMS))
    if unknown:
        raise ValueError(f"unknown norms {unknown}; expected some of {', '.join(NORMS)}")
    if len(queries) != len(query_labels) or len(refs) != len(ref_labels):
        raise ValueError("every query and every reference needs one label")
    if min(np.min(query_labels, initial=0), np.min(ref_labels, initial=0)) < 0:
        raise ValueError("labels must be non-negative integers")
    if (np.asarray(queries).dtype == np.uint8) != (np.asarray(refs).dtype == np.uint8):
        raise ValueError("queries and references must both be uint8 images or both be float arrays")
    l2_result = l2.nearest_l2(queries, query_labels, refs, ref_labels, tile_size, arithmetic, batch_map)
    out = {"l2": l2_result} if "l2" in norms else {}
    if "linf" in norms:
        out["linf"] = linf.nearest_linf(queries, query_labels, refs, ref_labels, l2_result.candidates, tile_size,
                                        arithmetic)
    log.info("nearest other-label neighbours of %d queries among %d references: %s", len(queries), len(refs),
             ", ".join(f"{n} {r.stats['seconds']:.1f} s" for n, r in out.items()))
    return {n: out[n] for n in norms}
