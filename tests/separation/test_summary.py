"""Summaries: statistics, r, dropped distances, closest pairs."""

import numpy as np

from robustkit.separation import summary
from robustkit.separation.exact import Nearest


def _nearest(distance, index):
    return Nearest(np.asarray(distance, np.float64), np.asarray(index), {"seconds": 0.0})


def test_describe_reports_min_mean_r_and_percentiles():
    record = summary.describe([4.0, 2.0, 6.0, np.inf], percentiles=[50])
    assert record == {"count": 3, "min": 2.0, "mean": 4.0, "max": 6.0, "r": 1.0, "percentiles": {"50": 4.0}}
    assert summary.describe([np.inf])["r"] is None


def test_summarise_drops_the_smallest_and_lists_pairs_once():
    # Points 0 and 1 are each other's nearest (a duplicate across labels); 2 and 3 are farther.
    nearest = _nearest([0.0, 0.0, 3.0, 5.0], [1, 0, 1, 2])
    labels = np.array([0, 1, 0, 1])
    record = summary.summarise(nearest, labels, labels, class_names=["a", "b"], percentiles=[50], drop_smallest=2,
                               pairs=5, symmetric=True)
    assert record["min_before_drop"] == 0.0 and record["min"] == 3.0 and record["r"] == 1.5
    assert [d["query"] for d in record["dropped"]] == [0, 1]
    assert [(p["query"], p["reference"]) for p in record["closest_pairs"]] == [(2, 1), (3, 2)]
    assert record["per_class"]["a"]["min"] == 3.0 and record["per_class"]["b"]["min"] == 5.0
    plain = summary.summarise(nearest, labels, labels, pairs=5, symmetric=True)
    assert [(p["query"], p["reference"]) for p in plain["closest_pairs"]] == [(0, 1), (2, 1), (3, 2)]
    assert plain["r"] == 0.0 and set(plain["per_class"]) == {"0", "1"}
