"""Measures the training throughput of the VAE and the CVAEs as the shipped configs build them.

    python scripts/bench_generative.py --out bench_generative.json
    python scripts/bench_generative.py --threads 2 --only vae fc_cvae_rotation

Each entry takes its model, batch size, beta warm-up and regulariser from a
config in configs/ (with the overrides listed in ENTRIES) and trains on random
28x28 images shaped like that config's data (pairs, or rotation bundles), fed
through the same `make_pair_pipeline` the runs use. After --warmup-steps steps
(graph tracing), --epochs epochs of --steps steps are timed; the median
training examples per second is reported. --threads limits TensorFlow's
intra- and inter-op thread pools (2 mimics a 2-core machine).
"""

import argparse
import logging
import os
import platform
import sys
import time
from typing import Dict, List, Optional

import robustkit  # noqa: F401  (sets up tf-keras before TensorFlow loads)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import outputs, versions
from robustkit.data.pairs import Pairs, make_pair_pipeline
from robustkit.generative.config import MODELS
from robustkit.generative.distributions import LinearWarmup
from robustkit.train import load_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRIES = {
    "vae": ("vae_fashion_mnist.yaml", []),
    "fc_cvae_pairs": ("cvae_fashion_mnist_corrupted.yaml", []),
    "fc_cvae_rotation": ("cvae_rotation_1d_fashion_mnist.yaml", []),
    "conv_cvae_pairs": ("cvae_fashion_mnist_corrupted.yaml", ["model={name: conv_cvae, latent_dim: 8}"]),
}


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(ENTRIES), help="entries to run (default: all)")
    parser.add_argument("--steps", type=int, default=50, help="steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed steps first (graph tracing)")
    parser.add_argument("--batch-size", type=int, default=None, help="override the configs' batch sizes")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _random_pairs(n: int, bundles: bool, seed: int = 0) -> Pairs:
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8) for _ in range(3)]
    return Pairs(images[0], images[1], rng.integers(0, 10, n).astype(np.int64), "train", [str(i) for i in range(10)],
                 corrupted2=images[2] if bundles else None,
                 theta=rng.uniform(-20, 20, n).astype(np.float32) if bundles else None)


class _StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: List[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def bench_entry(name: str, args: argparse.Namespace) -> Dict[str, object]:
    """Trains one entry's model on random data and times it."""
    config, overrides = ENTRIES[name]
    job, _ = load_job(os.path.join(ROOT, "configs", config), overrides)
    batch = args.batch_size or job.train.batch_size
    bundles = job.data.name == "rotation"
    pairs = _random_pairs(batch * 8, bundles)
    keras.utils.set_random_seed(0)
    kwargs = dict(image_shape=(28, 28, 1), beta=job.train.beta, beta_warmup_steps=args.steps)
    if job.task == "cvae":
        kwargs["regulariser_weight"] = job.regulariser.weight if job.regulariser.enabled else 0.0
    model = MODELS.build(job.model, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(LinearWarmup(job.train.learning_rate, 0)))
    dataset = make_pair_pipeline(pairs, batch, training=True, seed=0, drop_remainder=True).repeat()
    if job.task == "vae":
        dataset = dataset.map(lambda b: {"image": b["image"]})
    model.fit(dataset, epochs=1, steps_per_epoch=args.warmup_steps, verbose=0)
    timer = _StepTimer()
    model.fit(dataset, epochs=args.epochs, steps_per_epoch=args.steps, verbose=0, callbacks=[timer])
    rates = sorted(args.steps * batch / s for s in timer.seconds)
    return {
        "entry": name, "config": config, "overrides": overrides, "task": job.task, "model": job.model.name,
        "latent_dim": job.model.latent_dim, "data": "bundles" if bundles else ("images" if job.task == "vae"
                                                                               else "pairs"),
        "batch_size": batch, "parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "examples_per_second": float(rates[len(rates) // 2]),
    }


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    gpus = tf.config.list_physical_devices("GPU")
    device = gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores visible)"
    rows = [bench_entry(name, args) for name in (args.only or list(ENTRIES))]
    print(f"device: {device}; threads: {args.threads or 'TensorFlow default'}; platform: {platform.platform()}")
    print(f"{'entry':<18} {'model':<10} {'data':<8} {'latent':>6} {'batch':>6} {'params':>10} {'examples/s':>11}")
    for r in rows:
        print(f"{r['entry']:<18} {r['model']:<10} {r['data']:<8} {r['latent_dim']:>6} {r['batch_size']:>6} "
              f"{r['parameters']:>10,} {r['examples_per_second']:>11.0f}")
    if args.out:
        outputs.write_json(args.out, {"device": device, "threads": args.threads, "steps": args.steps,
                                      "epochs": args.epochs, "results": rows, "versions": versions.library_versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
