"""Training throughput of every adversarial method against plain training, and the input pipeline's.

    python scripts/bench_train.py                        # CPU-sized: MobileNetV2 alpha 0.35, 64x64, 200 classes
    python scripts/bench_train.py --pgd 3 --pgd 10 --out bench_train.json
    python scripts/bench_train.py --set model.alpha=1.0 --set model.input_size=96 --batch-size 256   # a GPU

One process, one machine, one model (the headline config's, overridable with --set):
(1) plain training steps, (2) NSL single-step adversarial regularisation, (3) for each
--pgd k: NSL with PGD-k (nsl_pgdk), PGD adversarial training (pgdk) and TRADES (tradesk)
with k attack steps, (4) fast adversarial training; each fed from one in-memory batch so
the pipeline does not limit it, timed over --steps steps after a warm-up epoch. (5) The
input pipeline of that config (decode from a generated tree of real JPEGs, then
augmentation and resizing) in examples/s.
Targets (step time over plain): NSL at most 2.1x; NSL PGD-k and pgd-k at most 1.1 x (k + 1);
trades-k at most 1.1 x (k + 2); fast at most 2.1x; pipeline at least 3x the plain training
throughput.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Dict, List, Optional

import robustkit  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, outputs, versions
from robustkit.data import load_split, make_pipeline, synthetic
from robustkit.training import callbacks as callbacks_lib
from robustkit.training.config import TrainJob
from robustkit.training.loop import build_trainer

EPSILON = 4 / 255  # the robust methods' radius (their cost does not depend on it)
CPU_DEFAULTS = ["model.weights=none", "model.alpha=0.35", "model.input_size=64", "train.phases=[]",
                "train.precision=float32"]


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/tiny_imagenet_mobilenetv2_nsl.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"config overrides, applied after {' '.join(CPU_DEFAULTS)}")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per variant")
    parser.add_argument("--pgd", type=int, action="append", default=None, help="PGD iterations (repeatable; default 3)")
    parser.add_argument("--jpegs", type=int, default=2000, help="training JPEGs in the generated tree")
    parser.add_argument("--variants", help="comma-separated variants to time (default: all; plain is always timed)")
    parser.add_argument("--skip-pipeline", action="store_true", help="do not time the input pipeline")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _train_rate(job: TrainJob, args: argparse.Namespace) -> float:
    size = job.model.input_size
    rng = tf.random.Generator.from_seed(0)
    batch = {
        "image": rng.uniform([args.batch_size, size, size, 3]),
        "label": rng.uniform([args.batch_size], 0, args.classes, dtype=tf.int64),
    }
    data = tf.data.Dataset.from_tensors(batch).repeat()
    if not job.adversarial.uses_nsl:
        data = data.map(lambda b: ({"image": b["image"]}, b["label"]))
    keras.backend.clear_session()
    strategy = distribute.make_strategy(job.distribute)  # distribute.strategy=mirrored: every local GPU.
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(job.train.precision)
    try:
        with strategy.scope():
            _, trainer = build_trainer(job, args.classes, 3)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    throughput = callbacks_lib.Throughput(args.batch_size)
    # Epoch 1 traces and warms up; the rate is the median of the later epochs.
    trainer.fit(data, epochs=3, steps_per_epoch=args.steps, callbacks=[throughput], verbose=0)
    return throughput.examples_per_second


def _pipeline_rate(job: TrainJob, args: argparse.Namespace) -> Dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "tiny-imagenet-200")
        per_class = max(1, args.jpegs // args.classes)
        synthetic.write_tiny_imagenet(root, args.classes, per_class, val_per_class=1, test_images=1, seed=0)
        options = config_lib.parse(type(job.data), {**config_lib.to_dict(job.data), "dir": root})
        start = time.perf_counter()
        source = load_split(options, "train")
        decode = source.num_examples / (time.perf_counter() - start)
    dataset = make_pipeline(source, args.batch_size, training=True, seed=0, augment=job.data.augment,
                            image_size=job.model.input_size, drop_remainder=True)
    for _ in dataset:  # Warm-up pass.
        pass
    count, start = 0, time.perf_counter()
    for _ in range(3):
        for batch in dataset:
            count += int(batch["label"].shape[0])
    augmented = count / (time.perf_counter() - start)
    return {"decode_examples_per_second": decode, "augmented_examples_per_second": augmented}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    base = config_lib.load(TrainJob, args.config, CPU_DEFAULTS + args.overrides)
    if base.data.name != "tiny_imagenet":
        print(f"error: {args.config} trains on {base.data.name}; this benchmark needs a tiny_imagenet config",
              file=sys.stderr)
        return 2
    pgd_list = args.pgd or [3]
    results: Dict[str, object] = {"model": config_lib.to_dict(base.model), "batch_size": args.batch_size,
                                  "classes": args.classes, "steps": args.steps}
    rates = {}
    variants = [("plain", ["adversarial.enabled=false"]), ("nsl", ["adversarial.enabled=true",
                                                                   "adversarial.pgd_iterations=1"])]
    robust = ["adversarial.enabled=true", "adversarial.norm=linf", "adversarial.step_size=null",
              f"adversarial.epsilon={EPSILON}"]
    targets = {"nsl": 2.1, "fast": 2.1}
    for k in pgd_list:
        variants += [(f"nsl_pgd{k}", ["adversarial.enabled=true", f"adversarial.pgd_iterations={k}"]),
                     (f"pgd{k}", robust + ["adversarial.method=pgd", f"adversarial.iterations={k}"]),
                     (f"trades{k}", robust + ["adversarial.method=trades", f"adversarial.iterations={k}"])]
        targets.update({f"nsl_pgd{k}": 1.1 * (k + 1), f"pgd{k}": 1.1 * (k + 1), f"trades{k}": 1.1 * (k + 2)})
    variants.append(("fast", robust + ["adversarial.method=fast"]))
    if args.variants:
        chosen = {"plain", *args.variants.split(",")}
        unknown = chosen - {name for name, _ in variants}
        if unknown:
            print(f"error: --variants names {', '.join(sorted(unknown))}; known: "
                  f"{', '.join(name for name, _ in variants)}", file=sys.stderr)
            return 2
        variants = [(name, extra) for name, extra in variants if name in chosen]
    for name, extra in variants:
        job = config_lib.load(TrainJob, args.config, CPU_DEFAULTS + args.overrides + extra)
        rates[name] = _train_rate(job, args)
    results["train_examples_per_second"] = rates
    ratios = {name: rates["plain"] / rate for name, rate in rates.items() if name != "plain"}
    results["step_time_ratio_to_plain"] = ratios
    results["targets"] = targets
    if not args.skip_pipeline:
        pipeline = _pipeline_rate(base, args)
        results["pipeline"] = pipeline
        results["pipeline_over_training"] = pipeline["augmented_examples_per_second"] / rates["plain"]
    results["replicas"] = distribute.make_strategy(base.distribute).num_replicas_in_sync
    results["precision"] = base.train.precision
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}
    results["versions"] = versions.library_versions()

    print(f"{'variant':10s} {'examples/s':>11s} {'x plain time':>13s} {'target':>9s}")
    for name, rate in rates.items():
        ratio = ratios.get(name, 1.0)
        target = targets.get(name)
        verdict = "" if target is None else ("ok" if ratio <= target else "MISSED")
        print(f"{name:10s} {rate:11.1f} {ratio:13.2f} {('<= %.2f' % target) if target else '':>9s} {verdict}")
    if not args.skip_pipeline:
        ok = "ok" if results["pipeline_over_training"] >= 3 else "MISSED"
        print(f"pipeline   {pipeline['augmented_examples_per_second']:11.1f} "
              f"({results['pipeline_over_training']:.1f}x plain training; target >= 3x) {ok}")
        print(f"decode     {pipeline['decode_examples_per_second']:11.1f}")
    if args.out:
        outputs.write_text(args.out, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
