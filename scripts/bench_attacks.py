"""Measures attack throughput: robustkit's compiled FGSM and PGD against NSL's eager ``perturb_on_batch``.

    python scripts/bench_attacks.py
    python scripts/bench_attacks.py --arch small_cnn --batches 20
    python scripts/bench_attacks.py --model saved_models/quickstart_base --out bench_attacks.json

The default model is the quickstart's MobileNetV2 (alpha 0.35, 32x32x1, 10
classes, random weights: throughput does not depend on training); ``--arch
small_cnn`` takes the 28x28 CNN instead, ``--model`` any model
`robustkit.models.loading` reads. On one batch of ``--batch-size`` random
images it times, after one untimed warm-up call each:

1. ``fgsm``: robustkit's FGSM (one compiled `tf.function`);
2. ``pgd``: robustkit's PGD-k (L-inf, no random start, step 2.5 * epsilon / k);
3. ``nsl_compiled``: the same PGD-k through ``nsl.lib.gen_adv_neighbor`` in a
   `tf.function` (the ``nsl`` attack);
4. ``nsl_perturb_on_batch``: the same PGD-k through
   ``nsl.keras.AdversarialRegularization.perturb_on_batch`` (eager, returns NumPy),

and reports examples per second and the speed-up of ``pgd`` over
``nsl_perturb_on_batch``.
"""

import argparse
import logging
import os
import platform
import sys
import time
from typing import Callable, Dict, List, Optional

import robustkit  # noqa: F401  (selects tf-keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import outputs, versions
from robustkit.attacks.gradient import FgsmConfig, PgdConfig, fgsm, pgd
from robustkit.attacks.nsl import NslAttackConfig, nsl_attack
from robustkit.models import build_model
from robustkit.models.mobilenetv2 import MobileNetV2Config
from robustkit.models.small_cnn import SmallCNNConfig
from robustkit.training import adversarial
from robustkit.training.config import AdversarialConfig

logger = logging.getLogger(__name__)


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=["mobilenetv2", "small_cnn"], default="mobilenetv2",
                        help="the model to build when --model is not given (default mobilenetv2, 32x32x1)")
    parser.add_argument("--model", help="a model path instead (SavedModel directory, model root or Keras file)")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per batch")
    parser.add_argument("--iterations", type=int, default=10, help="PGD steps")
    parser.add_argument("--epsilon", type=float, default=0.03, help="L-inf radius")
    parser.add_argument("--batches", type=int, default=10, help="timed calls per method")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the random batch")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _keras_model(args: argparse.Namespace) -> keras.Model:
    """A Keras model with input ``image`` (NSL's wrapper needs one)."""
    keras.utils.set_random_seed(args.seed)
    if args.model:
        from robustkit.models.loading import load_model

        loaded = load_model("bench", args.model)
        size = loaded.input_size or 32
        image = keras.Input((size, size, loaded.channels), name="image")
        return keras.Model(image, keras.layers.Lambda(loaded, name="loaded")(image))
    if args.arch == "small_cnn":
        return build_model(SmallCNNConfig(), num_classes=10, channels=1)
    return build_model(MobileNetV2Config(input_size=32, alpha=0.35), num_classes=10, channels=1)


def _time(fn: Callable[[], object], batches: int) -> float:
    """Seconds per call, after one untimed warm-up call (tracing, first allocation)."""
    np.asarray(fn())
    start = time.perf_counter()
    for _ in range(batches):
        np.asarray(fn())  # Waits for the result.
    return (time.perf_counter() - start) / batches


def run(args: argparse.Namespace) -> Dict[str, object]:
    model = _keras_model(args)
    shape = (args.batch_size, *model.input_shape[1:])
    rng = np.random.default_rng(args.seed)
    images = tf.constant(rng.uniform(0, 1, size=shape).astype("float32"))
    labels = tf.constant(rng.integers(0, model.output_shape[-1], size=args.batch_size).astype("int64"))
    eps, k = args.epsilon, args.iterations
    step = 2.5 * eps / k
    ours_fgsm = fgsm(FgsmConfig(epsilons=[eps]))
    ours_pgd = pgd(PgdConfig(epsilons=[eps], iterations=k, step_size=2.5, random_start=False))
    nsl_compiled = nsl_attack(NslAttackConfig(epsilons=[eps], pgd_iterations=k, step_size=2.5))
    perturb = adversarial.perturb_on_batch_fn(
        model, AdversarialConfig(step_size=step, norm="linf", pgd_iterations=k, pgd_epsilon=eps))
    methods = {
        "fgsm": lambda: ours_fgsm(model, images, labels, epsilon=eps),
        "pgd": lambda: ours_pgd(model, images, labels, epsilon=eps),
        "nsl_compiled": lambda: nsl_compiled(model, images, labels, epsilon=eps),
        "nsl_perturb_on_batch": lambda: perturb(images.numpy(), labels.numpy()),
    }
    gap = np.abs(np.asarray(methods["pgd"]()) - np.asarray(methods["nsl_perturb_on_batch"]())).max()
    seconds = {name: _time(fn, args.batches) for name, fn in methods.items()}
    return {
        "model": args.model or f"{args.arch} (random weights)",
        "input_shape": list(shape[1:]),
        "batch_size": args.batch_size,
        "pgd_iterations": k,
        "epsilon": eps,
        "examples_per_second": {name: args.batch_size / s for name, s in seconds.items()},
        "seconds_per_batch": seconds,
        "pgd_speedup_over_perturb_on_batch": seconds["nsl_perturb_on_batch"] / seconds["pgd"],
        "max_abs_difference_pgd_vs_perturb_on_batch": float(gap),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "gpus": len(tf.config.list_physical_devices("GPU"))},
        "versions": versions.library_versions(),
    }


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args)
    print(f"model {result['model']}, input {result['input_shape']}, batch {result['batch_size']}, "
          f"PGD-{result['pgd_iterations']} at epsilon {result['epsilon']}")
    for name, rate in result["examples_per_second"].items():
        print(f"  {name:<22} {rate:9.1f} examples/s   {1000 * result['seconds_per_batch'][name]:8.1f} ms/batch")
    print(f"  compiled PGD is {result['pgd_speedup_over_perturb_on_batch']:.2f}x faster than perturb_on_batch "
          f"(largest pixel difference between the two: {result['max_abs_difference_pgd_vs_perturb_on_batch']:.2g})")
    if args.out:
        outputs.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
