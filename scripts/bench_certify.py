"""Times randomized-smoothing certification against the same model's plain batched inference.

    python scripts/bench_certify.py --model saved_models/fashion_mnist_small_cnn_noise_025
    python scripts/bench_certify.py --examples 100 --out bench_certify.json   # an untrained small_cnn

On the offline Fashion-MNIST test images it measures:

1. ``plain``: images per second of the model on batches of ``--batch-size``
   clean test images, one compiled call per batch (what inference costs).
2. ``noisy``: noisy forward passes per second in CERTIFY
   (`robustkit.certify.smoothing.NoiseCounter`, the n0 + n draws of
   ``--throughput-examples`` examples, noise drawn, added and counted in the
   graph), and its ratio to ``plain``.
3. ``certify``: the wall time of CERTIFY on the first ``--examples`` test
   images at ``--n`` estimation and ``--n0`` selection draws (counts and
   decisions), and the certified accuracy it gives at a few radii.

Each compiled function is called once before it is timed. The machine's load
average is recorded before and after, since timings on shared cores are noisy.
Without ``--model`` an untrained small_cnn is timed: speed does not depend on
the weights.
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
from robustkit.certify import bounds, smoothing
from robustkit.data import DATASETS, load_split
from robustkit.data.examples import to_arrays
from robustkit.models import loading

logger = logging.getLogger(__name__)


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a classifier (SavedModel, model root or Keras file); default: an untrained "
                                        "small_cnn")
    parser.add_argument("--examples", type=int, default=500, help="test images certified (default 500)")
    parser.add_argument("--n", type=int, default=10000, help="estimation draws per image (default 10,000)")
    parser.add_argument("--n0", type=int, default=100, help="selection draws per image (default 100)")
    parser.add_argument("--sigma", type=float, default=0.25, help="noise level (default 0.25)")
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch-size", type=int, default=1000, help="images per forward pass (default 1000)")
    parser.add_argument("--throughput-examples", type=int, default=10,
                        help="examples the noisy throughput is measured on (default 10)")
    parser.add_argument("--plain-seconds", type=float, default=20.0, help="how long plain inference is timed")
    parser.add_argument("--threads", type=int, help="TensorFlow intra- and inter-op threads (default: TF's)")
    parser.add_argument("--skip-certify", action="store_true", help="measure the throughputs only")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _model(path: Optional[str], images: np.ndarray, labels: np.ndarray) -> loading.Model:
    if path:
        model = loading.load_model("model", path)
    else:
        from robustkit.models import build_model
        from robustkit.models.options import SmallCNNConfig

        model = loading.from_callable("small_cnn", build_model(SmallCNNConfig(), 10, images.shape[-1]),
                                      images.shape[1:])
    model.calibrate(images[:256], labels[:256])
    return model


def plain_throughput(model, images: np.ndarray, batch_size: int, seconds: float) -> Dict[str, Any]:
    """Images per second of compiled batched inference on clean images (argmax taken, as CERTIFY takes it)."""
    batch = tf.constant(np.resize(images, (batch_size, *images.shape[1:])))
    fn = tf.function(lambda x: tf.argmax(model(x), axis=-1))
    fn(batch).numpy()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        fn(batch).numpy()
        calls += 1
    spent = time.perf_counter() - began
    return {"images_per_second": calls * batch_size / spent, "calls": calls, "seconds": spent}


def noisy_throughput(counter: smoothing.NoiseCounter, images: np.ndarray, n0: int, n: int, sigma: float
                     ) -> Dict[str, Any]:
    """Noisy forward passes per second of CERTIFY's counting (after one warm-up call)."""
    draws = [(smoothing.PHASE_SELECTION, n0), (smoothing.PHASE_ESTIMATION, n)]
    counter.count(images[:1], np.arange(1), sigma, draws)
    began = time.perf_counter()
    counter.count(images, np.arange(len(images)), sigma, draws)
    spent = time.perf_counter() - began
    return {"passes_per_second": len(images) * (n0 + n) / spent, "examples": int(len(images)), "seconds": spent}


def certify_time(counter: smoothing.NoiseCounter, images: np.ndarray, labels: np.ndarray, args) -> Dict[str, Any]:
    """CERTIFY on every image: wall time, abstentions and certified accuracy."""
    draws = [(smoothing.PHASE_SELECTION, args.n0), (smoothing.PHASE_ESTIMATION, args.n)]
    began = time.perf_counter()
    counts, _ = counter.count(images, np.arange(len(images)), args.sigma, draws)
    decisions = [bounds.certify_one(c[0], c[1], args.sigma, args.alpha) for c in counts]
    spent = time.perf_counter() - began
    predictions = np.array([d[0] for d in decisions])
    radii = np.array([d[1] for d in decisions])
    return {"examples": int(len(images)), "n": args.n, "n0": args.n0, "seconds": spent,
            "seconds_per_image": spent / max(len(images), 1),
            "abstentions": int(np.sum(predictions == bounds.ABSTAIN)),
            "certified_accuracy": bounds.certified_accuracy(radii, predictions == labels, [0.0, 0.25, 0.5, 1.0])}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    load_before = os.getloadavg()
    options = DATASETS.options("fashion_mnist")()
    source = load_split(options, "test", max(args.examples, args.throughput_examples, 256))
    images, labels = to_arrays(source)
    model = _model(args.model, images, labels)
    counter = smoothing.NoiseCounter(tf.distribute.get_strategy(), smoothing.PixelSpace(model, images.shape[1:]),
                                     model.num_classes, args.batch_size, seed=0)
    plain = plain_throughput(model, images, args.batch_size, args.plain_seconds)
    logger.info("plain inference: %.0f images/s", plain["images_per_second"])
    noisy = noisy_throughput(counter, images[:args.throughput_examples], args.n0, args.n, args.sigma)
    noisy["ratio_to_plain"] = noisy["passes_per_second"] / plain["images_per_second"]
    logger.info("CERTIFY: %.0f noisy passes/s (%.3f of plain)", noisy["passes_per_second"], noisy["ratio_to_plain"])
    result: Dict[str, Any] = {"model": args.model or "untrained small_cnn", "batch_size": args.batch_size,
                              "sigma": args.sigma, "plain": plain, "noisy": noisy}
    if not args.skip_certify:
        result["certify"] = certify_time(counter, images[:args.examples], labels[:args.examples], args)
        logger.info("CERTIFY of %d images at n = %d: %.1f s", args.examples, args.n, result["certify"]["seconds"])
    result.update({"load_average_before": load_before, "load_average_after": os.getloadavg(),
                   "cpu_count": os.cpu_count(), "machine": platform.machine(),
                   "gpus": len(tf.config.list_physical_devices("GPU")), "versions": versions.library_versions()})
    print(json.dumps(result, indent=2))
    if args.out:
        outputs.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
