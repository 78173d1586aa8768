"""Measures the Tiny-ImageNet input pipeline: decode, then batches with and without augmentation.

    python scripts/bench_data_pipeline.py --out bench_data.json
    python scripts/bench_data_pipeline.py --root data/tiny-imagenet-200 --limit 20000

Without --root, a synthetic tree of real JPEGs (--classes x --per-class training
images plus validation images) is written to a temporary directory first.
Reports (1) the throughput of the one-off parallel decode into memory, and the
steady-state throughput of `make_pipeline` over the in-memory images at batch
--batch-size, (2) with the training augmentation below and (3) without it. The
first epoch of each pipeline is a warm-up and is not timed.
"""

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from typing import Dict, List, Optional

import robustkit  # Sets up TensorFlow (tf-keras) before it is imported.
import tensorflow as tf

from robustkit import outputs
from robustkit.data import AugmentConfig, load_split, make_pipeline, synthetic
from robustkit.data.tiny_imagenet import TinyImageNetConfig

logger = logging.getLogger(__name__)

# Moderate probabilities for every op of the classifier's training augmentation.
AUGMENT = AugmentConfig(
    flip_prob=0.5, crop_prob=0.5, crop_padding=4,
    jitter_prob=0.5, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05,
    gaussian_prob=0.2, gaussian_std=0.05, poisson_prob=0.2, poisson_peak=60.0,
    salt_pepper_prob=0.2, salt_pepper_amount=0.02,
)


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="an existing tiny-imagenet-200 directory (default: write a synthetic one)")
    parser.add_argument("--classes", type=int, default=20, help="synthetic classes")
    parser.add_argument("--per-class", type=int, default=100, help="synthetic training images per class")
    parser.add_argument("--val-per-class", type=int, default=10, help="synthetic validation images per class")
    parser.add_argument("--limit", type=int, default=None, help="decode at most this many training images")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per batch")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per pipeline (after one warm-up)")
    parser.add_argument("--image-size", type=int, default=None, help="resize to this size (default: keep 64)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the data, shuffle and augmentation")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _steady_state(source, args: argparse.Namespace, augment: Optional[AugmentConfig]) -> Dict[str, float]:
    dataset = make_pipeline(source, args.batch_size, training=True, seed=args.seed, augment=augment,
                            image_size=args.image_size)
    for _ in dataset:  # Warm-up epoch: builds the functions and fills the buffers.
        pass
    images = 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        for batch in dataset:
            images += int(batch["label"].shape[0])
    seconds = time.perf_counter() - start
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = os.path.join(tmp, "tiny-imagenet-200")
            start = time.perf_counter()
            synthetic.write_tiny_imagenet(root, args.classes, args.per_class, args.val_per_class, 0, seed=args.seed)
            logger.info("wrote %d synthetic JPEGs in %.1f s", args.classes * (args.per_class + args.val_per_class),
                        time.perf_counter() - start)
        start = time.perf_counter()
        source = load_split(TinyImageNetConfig(dir=root), "train", limit=args.limit)
        decode_s = time.perf_counter() - start
        rows = {
            "decode (read + decode_image into memory)": {
                "images": source.num_examples, "seconds": decode_s, "images_per_s": source.num_examples / decode_s},
            "pipeline, augmentation on": _steady_state(source, args, AUGMENT),
            "pipeline, augmentation off": _steady_state(source, args, None),
        }
    results = {
        "measured": rows,
        "train_images": source.num_examples,
        "batch_size": args.batch_size,
        "timed_epochs": args.epochs,
        "image_size": args.image_size or source.image_shape[0],
        "synthetic": args.root is None,
        "augment": vars(AUGMENT),
        "cpu_count": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
        "robustkit": robustkit.__version__,
        "python": platform.python_version(),
    }
    width = max(len(name) for name in rows)
    lines = [f"{'step':<{width}}  {'images':>8}  {'seconds':>8}  {'images/s':>9}"]
    for name, row in rows.items():
        lines.append(f"{name:<{width}}  {row['images']:>8}  {row['seconds']:>8.2f}  {row['images_per_s']:>9.0f}")
    sys.stdout.write("\n".join(lines) + "\n")
    if args.out:
        outputs.write_json(args.out, results)
        logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
