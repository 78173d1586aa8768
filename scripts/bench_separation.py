"""Times robustkit's exact separation against scikit-learn's brute-force `NearestNeighbors` (Yang et al.'s method).

    python scripts/bench_separation.py
    python scripts/bench_separation.py --linf-queries 1000 --out bench_separation.json
    python scripts/bench_separation.py --train-limit 10000 --skip-sklearn

On the offline Fashion-MNIST training set (60,000 x 784 by default) it
measures train-train separation: for every image, the distance to the nearest
training image of another label.

1. ``robustkit``: `robustkit.separation.exact.nearest_other_label`, L2 and
   L-inf (the L-inf search starts from the L2 candidates; its time is reported
   without and with the L2 search it needs).
2. ``sklearn`` L2: as Yang et al. (2020) measure it, per class c,
   ``NearestNeighbors(n_neighbors=1, algorithm='brute')`` fitted on the images
   of the other classes and queried with the images of class c, on the pixel
   values 0..255 as float64, where its ``|x|^2 + |y|^2 - 2 x.y`` arithmetic is
   exact, so its distances must equal robustkit's exactly.
3. ``sklearn`` L-inf (chebyshev): the same, on the first ``--linf-queries``
   images as queries against all training images (the full run would take
   far beyond 20 minutes on two cores); its full time is extrapolated
   linearly in the number of queries, which is how brute force scales.

Distances of both are compared element by element (robustkit's are divided
by 255, sklearn's too). The machine's load average is recorded before and
after, since timings on shared cores are noisy. scikit-learn is a dev extra:
the package itself never imports it.
"""

import argparse
import json
import logging
import os
import platform
import sys
import time
from typing import Any, Dict, List, Optional

import robustkit  # noqa: F401  (selects tf-keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf

from robustkit import outputs, versions
from robustkit.data import DATASETS
from robustkit.separation import exact
from robustkit.data.examples import load_arrays

logger = logging.getLogger(__name__)


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-limit", type=int, help="use the first N training images (default: all 60,000)")
    parser.add_argument("--linf-queries", type=int, default=1000,
                        help="queries of the sklearn chebyshev run, extrapolated to all (default 1000)")
    parser.add_argument("--tile-size", type=int, default=2048, help="robustkit's tile size")
    parser.add_argument("--arithmetic", default="auto", choices=["auto", "int8", "float32"])
    parser.add_argument("--skip-sklearn", action="store_true", help="time robustkit only")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def sklearn_per_class(x: np.ndarray, y: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Distances from ``x[queries]`` to the nearest row of ``x`` of another label, one fit per class."""
    from sklearn.neighbors import NearestNeighbors

    out = np.empty(len(queries))
    for label in np.unique(y[queries]):
        mine = queries[y[queries] == label]
        model = NearestNeighbors(n_neighbors=1, algorithm="brute", metric=metric).fit(x[y != label])
        out[np.searchsorted(queries, mine)] = model.kneighbors(x[mine], return_distance=True)[0][:, 0]
    return out


def _compare(ours: np.ndarray, theirs: np.ndarray) -> Dict[str, Any]:
    return {"identical": bool(np.array_equal(ours, theirs)), "max_abs_difference": float(np.max(np.abs(ours - theirs))),
            "mismatches": int(np.sum(ours != theirs))}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    images, labels, _ = load_arrays(DATASETS.options("fashion_mnist")(), "train", args.train_limit)
    x = images.reshape(len(images), -1)
    record: Dict[str, Any] = {"examples": int(len(x)), "dimensions": int(x.shape[1]),
                              "load_average_before": os.getloadavg(), "cpu_count": os.cpu_count(),
                              "gpus": [d.name for d in tf.config.list_logical_devices("GPU")],
                              "platform": platform.platform(), "versions": versions.library_versions()}
    exact.nearest_other_label(x[:512], labels[:512], x[:512], labels[:512], tile_size=args.tile_size,
                              arithmetic=args.arithmetic)  # Compiles the kernels before timing.
    started = time.perf_counter()
    ours = exact.nearest_other_label(x, labels, x, labels, tile_size=args.tile_size, arithmetic=args.arithmetic)
    total = time.perf_counter() - started
    record["robustkit"] = {"seconds_total": total, "seconds_l2": ours["l2"].stats["seconds"],
                           "seconds_linf_after_l2": ours["linf"].stats["seconds"],
                           "l2_stats": ours["l2"].stats, "linf_stats": ours["linf"].stats,
                           "l2_min": float(ours["l2"].distance.min()), "linf_min": float(ours["linf"].distance.min())}
    print(f"robustkit: L2 {ours['l2'].stats['seconds']:.1f} s, L-inf {ours['linf'].stats['seconds']:.1f} s after it "
          f"({total:.1f} s both), {ours['l2'].stats['arithmetic']} arithmetic")
    if not args.skip_sklearn:
        everyone = np.arange(len(x))
        x64 = x.astype(np.float64)
        started = time.perf_counter()
        theirs = sklearn_per_class(x64, labels, everyone, "euclidean") / 255.0
        seconds = time.perf_counter() - started
        record["sklearn_l2"] = {"seconds": seconds, "speedup": seconds / ours["l2"].stats["seconds"],
                                **_compare(ours["l2"].distance, theirs)}
        print(f"sklearn L2: {seconds:.1f} s; robustkit is {record['sklearn_l2']['speedup']:.1f}x faster; "
              f"distances identical: {record['sklearn_l2']['identical']}")
        subset = everyone[:min(args.linf_queries, len(x))]
        started = time.perf_counter()
        theirs = sklearn_per_class(x64, labels, subset, "chebyshev") / 255.0
        seconds = time.perf_counter() - started
        full = seconds * len(x) / len(subset)
        linf_total = ours["linf"].stats["seconds"] + ours["l2"].stats["seconds"]
        record["sklearn_linf"] = {"queries": int(len(subset)), "seconds_subset": seconds,
                                  "seconds_full_extrapolated": full, "speedup_extrapolated": full / linf_total,
                                  **_compare(ours["linf"].distance[subset], theirs)}
        print(f"sklearn L-inf: {seconds:.1f} s for {len(subset)} queries, about {full:.0f} s for all {len(x)}; "
              f"robustkit (L2 + L-inf, {linf_total:.1f} s) is about {full / linf_total:.0f}x faster; distances "
              f"identical on the subset: {record['sklearn_linf']['identical']}")
    record["load_average_after"] = os.getloadavg()
    print(f"load average before {record['load_average_before']}, after {record['load_average_after']}")
    if args.out:
        outputs.write_text(args.out, json.dumps(record, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
