"""APGD-CE against ART's AutoProjectedGradientDescent, and the cost of AutoAttack stage by stage.

    python scripts/bench_autoattack.py --out bench_autoattack.json
    python scripts/bench_autoattack.py --model saved_models/quickstart_base --aa-examples 1000 --skip-art

One process, one model, the first Fashion-MNIST test images ($FASHION_MNIST_DIR, else
/usr/share/datasets/fashion-mnist). Without --model, a small_cnn is trained for --epochs on the first
--train-examples training images (seconds on 2 cores). (1) APGD-CE, L-inf, --iterations steps, one
run, on --examples images: robustkit's (compiled) and ART 1.20's AutoProjectedGradientDescent with
the same settings (first step 2 epsilon, one random start, the same batch size) on the same model,
examples/s and robust accuracy of each (goal: robustkit at least 3x faster). (2) AutoAttack
--version on --aa-examples images: wall time and, per stage, seconds, examples attacked and robust
accuracy after it; PGD-10 at the same radius on the same images for comparison. ART is a dev
dependency only; robustkit never imports it.
"""

import argparse
import json
import logging
import os
import platform
import sys
import time
from typing import Any, Dict, List, Optional

import robustkit  # noqa: F401  (selects tf-keras before TensorFlow loads)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import outputs, versions
from robustkit.attacks.apgd_attack import ApgdConfig, apgd
from robustkit.attacks.autoattack_cascade import AutoAttackConfig, autoattack
from robustkit.attacks.gradient import PgdConfig, pgd
from robustkit.data.idx import read_idx_split
from robustkit.models.small_cnn import SmallCNNConfig, build

log = logging.getLogger("bench_autoattack")


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a SavedModel, model root or Keras file (default: train a small_cnn)")
    parser.add_argument("--data-dir",
                        default=os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")
    parser.add_argument("--train-examples", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--epsilon", type=float, default=0.1, help="L-inf radius in pixel units")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--examples", type=int, default=500, help="images for the APGD comparison")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--aa-examples", type=int, default=1000, help="images for AutoAttack (0: skip)")
    parser.add_argument("--version", default="standard", choices=["standard", "plus", "rand"])
    parser.add_argument("--skip-art", action="store_true", help="no ART comparison")
    parser.add_argument("--out", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _model(args: argparse.Namespace, data: Dict[str, np.ndarray]):
    if args.model:
        from robustkit.models.loading import load_model

        model = load_model("bench", args.model)
        model.calibrate(data["x_test"][:256], data["y_test"][:256])
        return model, f"loaded {args.model}"
    keras.utils.set_random_seed(0)
    model = build(SmallCNNConfig(), 10, 1)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(data["x_train"], data["y_train"], epochs=args.epochs, batch_size=64, verbose=0)
    return model, f"small_cnn trained on {len(data['y_train'])} images x {args.epochs} epoch(s) in " \
                  f"{time.perf_counter() - start:.0f}s"


def _accuracy(model, images: np.ndarray, labels: np.ndarray, batch: int) -> float:
    predicted = [np.argmax(model(tf.constant(images[i:i + batch])).numpy(), -1) for i in range(0, len(images), batch)]
    return float(np.mean(np.concatenate(predicted) == labels))


def _ours(model, x, y, args) -> Dict[str, Any]:
    attack = apgd(ApgdConfig(epsilons=[args.epsilon], iterations=args.iterations))
    attack(model, x[:8], y[:8], epsilon=args.epsilon, seed=(0, 0))  # Traces once; not timed.
    start = time.perf_counter()
    adv = np.concatenate([attack(model, x[i:i + args.batch_size], y[i:i + args.batch_size], epsilon=args.epsilon,
                                 seed=(0, i)).numpy() for i in range(0, len(x), args.batch_size)])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "examples_per_s": len(x) / seconds,
            "robust_accuracy": _accuracy(model, adv, y, args.batch_size)}


def _art(model, x, y, args) -> Dict[str, Any]:
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.estimators.classification import TensorFlowV2Classifier

    logging.getLogger("art").setLevel(logging.WARNING)
    classifier = TensorFlowV2Classifier(
        model=model, nb_classes=10, input_shape=tuple(x.shape[1:]), clip_values=(0.0, 1.0),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    attack = AutoProjectedGradientDescent(classifier, norm=np.inf, eps=args.epsilon, eps_step=2 * args.epsilon,
                                          max_iter=args.iterations, nb_random_init=1, batch_size=args.batch_size,
                                          loss_type="cross_entropy", verbose=False)
    start = time.perf_counter()
    adv = attack.generate(x, y=np.eye(10, dtype=np.float32)[y])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "examples_per_s": len(x) / seconds,
            "robust_accuracy": _accuracy(model, adv.astype(np.float32), y, args.batch_size)}


def _autoattack(model, x, y, args) -> Dict[str, Any]:
    attack = autoattack(AutoAttackConfig(version=args.version, epsilons=[args.epsilon], iterations=args.iterations))
    start = time.perf_counter()
    result = attack.run(model, x, y, args.epsilon, seed=(0, 1), batch_size=args.batch_size)
    wall = time.perf_counter() - start
    attack_pgd = pgd(PgdConfig(epsilons=[args.epsilon], iterations=10))
    adv = np.concatenate([attack_pgd(model, x[i:i + args.batch_size], y[i:i + args.batch_size], epsilon=args.epsilon,
                                     seed=(0, i)).numpy() for i in range(0, len(x), args.batch_size)])
    return {"version": args.version, "examples": len(y), "wall_seconds": wall,
            "clean_accuracy": float(np.mean(result.clean)), "robust_accuracy": float(np.mean(result.robust)),
            "pgd10_accuracy": _accuracy(model, adv, y, args.batch_size), "stages": result.stages}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    x_test, y_test = read_idx_split(args.data_dir, "t10k")
    data = {"x_test": (x_test.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32), "y_test": y_test.astype(np.int64)}
    if not args.model:
        x_train, y_train = read_idx_split(args.data_dir, "train")
        data["x_train"] = (x_train[:args.train_examples].reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
        data["y_train"] = y_train[:args.train_examples].astype(np.int64)
    model, how = _model(args, data)
    x, y = data["x_test"][:args.examples], data["y_test"][:args.examples]
    results: Dict[str, Any] = {
        "model": how, "epsilon": args.epsilon, "iterations": args.iterations, "batch_size": args.batch_size,
        "examples": args.examples, "clean_accuracy": _accuracy(model, x, y, args.batch_size),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "gpus": len(tf.config.list_physical_devices("GPU"))},
        "versions": versions.library_versions(),
    }
    results["apgd_ce_robustkit"] = _ours(model, x, y, args)
    log.info("robustkit APGD-CE: %s", results["apgd_ce_robustkit"])
    if not args.skip_art:
        results["apgd_ce_art"] = _art(model, x, y, args)
        results["speedup"] = results["apgd_ce_robustkit"]["examples_per_s"] / results["apgd_ce_art"]["examples_per_s"]
        log.info("ART APGD-CE: %s; robustkit is %.1fx faster", results["apgd_ce_art"], results["speedup"])
    if args.aa_examples:
        n = args.aa_examples
        results["autoattack"] = _autoattack(model, data["x_test"][:n], data["y_test"][:n], args)
        log.info("AutoAttack: %s", {k: v for k, v in results["autoattack"].items() if k != "stages"})
    print(json.dumps(results, indent=2))
    if args.out:
        outputs.write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
