"""Summaries of nearest other-label distances: minimum, percentiles and mean per class and overall, and r.

Following Yang et al. ("A Closer Look at Accuracy vs. Robustness", 2020),
a dataset is r-separated with r = (smallest distance between differently
labelled points) / 2. They dropped a handful of the smallest distances of SVHN
and Restricted ImageNet (duplicates and mislabelled images across classes);
``drop_smallest`` does the same, and the dropped points are listed.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from robustkit.separation.tiling import Nearest

DEFAULT_PERCENTILES = (0.1, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0)


def _percentile_key(p: float) -> str:
    return f"{p:g}"


def describe(distances: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> Dict[str, Any]:
    """``count``, ``min``, ``mean``, ``max``, ``r`` (= min / 2) and ``percentiles`` of finite distances."""
    finite = np.asarray(distances, np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return {"count": 0, "min": None, "mean": None, "max": None, "r": None,
                "percentiles": {_percentile_key(p): None for p in percentiles}}
    low = float(finite.min())
    return {
        "count": int(len(finite)),
        "min": low,
        "mean": float(finite.mean()),
        "max": float(finite.max()),
        "r": low / 2.0,
        "percentiles": {_percentile_key(p): float(np.percentile(finite, p)) for p in percentiles},
    }


def closest_pairs(nearest: Nearest, query_labels: np.ndarray, ref_labels: np.ndarray, count: int,
                  symmetric: bool = False, skip: Optional[np.ndarray] = None) -> List[Dict[str, Any]]:
    """The ``count`` smallest distances as pairs, nearest first.

    Args:
      nearest: the distances and reference rows of every query.
      query_labels, ref_labels: the labels.
      count: how many pairs.
      symmetric: queries and references are the same points (train-train):
        the pair (j, i) is not listed again after (i, j).
      skip: bool ``[Q]``, queries left out (those dropped from the statistics).
    """
    order = np.argsort(nearest.distance, kind="stable")
    pairs, seen = [], set()
    for query in order:
        ref = int(nearest.index[query])
        if len(pairs) >= count or ref < 0:
            break
        if skip is not None and skip[query]:
            continue
        key = (min(int(query), ref), max(int(query), ref)) if symmetric else (int(query), ref)
        if key in seen:
            continue
        seen.add(key)
        pairs.append({"query": int(query), "reference": ref, "distance": float(nearest.distance[query]),
                      "query_label": int(query_labels[query]), "reference_label": int(ref_labels[ref])})
    return pairs


def summarise(nearest: Nearest, query_labels: np.ndarray, ref_labels: np.ndarray, *,
              class_names: Optional[Sequence[str]] = None, percentiles: Sequence[float] = DEFAULT_PERCENTILES,
              drop_smallest: int = 0, pairs: int = 6, symmetric: bool = False) -> Dict[str, Any]:
    """Everything `separation.json` records for one norm and one pairing.

    Args:
      nearest: the distances and reference rows of every query.
      query_labels, ref_labels: the labels.
      class_names: names by label (default: the label numbers).
      percentiles: the percentiles reported.
      drop_smallest: leave the k smallest distances out of every statistic.
      pairs: how many closest pairs to list.
      symmetric: queries and references are the same points.

    Returns:
      The overall statistics (``min``, ``mean``, ``r``, ``percentiles``, ...)
      at the top level, ``per_class`` (by query label), ``dropped`` and
      ``closest_pairs`` (the nearest pairs left after dropping).
    """
    query_labels = np.asarray(query_labels)
    order = np.argsort(nearest.distance, kind="stable")
    dropped = np.zeros(len(order), bool)
    dropped[order[:max(0, drop_smallest)]] = True
    kept = nearest.distance[~dropped]
    names = list(class_names) if class_names is not None else None
    per_class = {}
    for label in np.unique(query_labels):
        name = names[label] if names is not None and 0 <= label < len(names) else str(int(label))
        per_class[name] = {"label": int(label),
                           **describe(nearest.distance[(query_labels == label) & ~dropped], percentiles)}
    record = describe(kept, percentiles)
    record.update({
        "min_before_drop": float(nearest.distance.min()) if len(nearest.distance) else None,
        "dropped": closest_pairs(nearest, query_labels, ref_labels, max(0, drop_smallest), symmetric=False,
                                 skip=~dropped),
        "per_class": per_class,
        "closest_pairs": closest_pairs(nearest, query_labels, ref_labels, pairs, symmetric, skip=dropped),
        "computation": nearest.stats,
    })
    return record
