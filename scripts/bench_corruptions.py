"""Measures the corruption benchmark on Fashion-MNIST: building the corrupted test set, and scoring one model.

    python scripts/bench_corruptions.py --model runs/method_table/plain/model --workers 2 --out bench_corruptions.json
    python scripts/bench_corruptions.py --model runs/method_table/plain/model --limit 1000   # a quick look

Builds every MNIST-C corruption at severities 1-5 (the four without severities
once each, identity once) of the first --limit test images (default: all
10,000) with --workers processes into the corrupted-set cache, timing (1) the
build, with any stored copy of the same set removed first, and (2) reading it
back. Then times (3) the model's plain inference (compiled argmax over float32
batches of the clean images, as validate_adv's clean pass) and (4) scoring the
model on every block (`robustkit.evaluation.corruption.score`), and reports
scoring throughput as a share of plain inference throughput.
"""

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import time
from typing import List, Optional

import numpy as np

import robustkit  # noqa: F401  Sets up TensorFlow (tf-keras) before it is imported.
from robustkit import outputs
from robustkit.data import corrupted_set, load_split
from robustkit.data.examples import to_arrays
from robustkit.data.options import CORRUPTION_NAMES, FashionMnistConfig
from robustkit.evaluation import corruption
from robustkit.models.loading import PROBE_EXAMPLES, load_model

logger = logging.getLogger(__name__)


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the classifier scored (SavedModel, model root or Keras file)")
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX directory (default: the usual places)")
    parser.add_argument("--limit", type=int, default=None, help="use the first LIMIT test images (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="processes building the set")
    parser.add_argument("--batch-size", type=int, default=500, help="examples per inference batch")
    parser.add_argument("--seed", type=int, default=0, help="the corruptions' seed")
    parser.add_argument("--cache-dir", default=None, help="the set cache (default: validate_adv's default)")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _plain_throughput(model, images: np.ndarray, batch: int, passes: int = 3) -> float:
    """Images per second of a compiled argmax over float32 batches (one warm-up pass, then ``passes``)."""
    import tensorflow as tf

    predict = tf.function(lambda x: tf.argmax(model(x), axis=-1), reduce_retracing=True)
    for timed in (False, True):
        started = time.perf_counter()
        for _ in range(passes if timed else 1):
            for start in range(0, len(images), batch):
                predict(tf.convert_to_tensor(images[start:start + batch], tf.float32)).numpy()
    return passes * len(images) / (time.perf_counter() - started)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    source = load_split(FashionMnistConfig(dir=args.data_dir), "test", args.limit)
    images, labels = to_arrays(source, 28, args.batch_size, args.seed)
    stored = corruption.as_stored(images)  # uint8, as validate_adv stores them.
    blocks = corrupted_set.entries(CORRUPTION_NAMES, [1, 2, 3, 4, 5])
    root = args.cache_dir or corrupted_set.default_cache_root(args.data_dir)
    path = os.path.join(root, corrupted_set.cache_key(stored, blocks, args.seed))
    shutil.rmtree(path, ignore_errors=True)
    corrupted = [b for b in blocks if b[0] != "identity"]

    built = corrupted_set.load_or_build(stored, labels, blocks, args.seed, root, workers=args.workers)
    read = corrupted_set.load_or_build(stored, labels, blocks, args.seed, root, workers=args.workers)
    assert read.source == "cache", read.source

    model = load_model("model", args.model)
    model.calibrate(images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES])
    plain = _plain_throughput(model, images, args.batch_size)
    scored = corruption.score({"model": model}, read, images, args.batch_size)
    scoring = len(blocks) * len(labels) / scored["seconds"]
    result = {
        "examples": len(labels), "blocks": len(blocks), "corrupted_blocks": len(corrupted),
        "corrupted_images": len(corrupted) * len(labels), "workers": args.workers,
        "build_seconds": built.seconds, "build_images_per_second": len(corrupted) * len(labels) / built.seconds,
        "cache_read_seconds": read.seconds, "cache": read.path,
        "cache_bytes": os.path.getsize(os.path.join(read.path, "images.npy")),
        "score_seconds": scored["seconds"], "scoring_images_per_second": scoring,
        "plain_inference_images_per_second": plain, "scoring_share_of_plain": scoring / plain,
        "batch_size": args.batch_size, "model": args.model,
        "clean_accuracy": scored["clean"]["model"],
        "mean_corruption_accuracy": corruption.summarize(blocks, scored["accuracy"]["model"], scored["clean"]["model"],
                                                         scored["accuracy"]["model"], scored["clean"]["model"])[
                                                             "mean_corruption_accuracy"],
        "cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        outputs.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
