"""The robust-training table: every adversarial method on the real Fashion-MNIST, small_cnn, L-inf 0.1.

    python scripts/method_table.py                          # all seven rows, results in runs/method_table
    python scripts/method_table.py --methods fast trades --set train.epochs=5
    python scripts/method_table.py --aa-examples 10000      # AutoAttack on the whole test set (hours on 2 cores)

For each method: `python -m robustkit.train` on all 60,000 training images (wall time
measured around the process), then `python -m robustkit.validate_adv` with
configs/validate_method_table.yaml: clean and PGD-20 accuracy on all 10,000 test images and
AutoAttack (standard) on the first --aa-examples of them. Rows are appended to
<out>/table.json as they finish, so an interrupted run keeps what it measured; a row already
there is skipped (delete the file, or pass --again, to measure again).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional

# method -> (training config, overrides); every row: small_cnn, eps 0.1 L-inf, all 60,000 images. The
# multi-step rows take 5 attack steps (NSL's PGD 3) and 5 epochs, about 15 minutes each on 2 idle CPU cores;
# --set train.epochs=N trades time for accuracy.
METHODS: Dict[str, tuple] = {
    "plain": ("configs/fashion_mnist_small_cnn.yaml", []),
    "nsl": ("configs/fashion_mnist_small_cnn.yaml",
            ["adversarial.enabled=true", "adversarial.method=nsl", "adversarial.norm=linf",
             "adversarial.step_size=0.1", "adversarial.multiplier=1.0"]),
    "nsl_pgd": ("configs/fashion_mnist_small_cnn.yaml",
                ["adversarial.enabled=true", "adversarial.method=nsl", "adversarial.norm=linf",
                 "adversarial.pgd_iterations=3", "adversarial.pgd_epsilon=0.1", "adversarial.step_size=0.04",
                 "adversarial.random_init=true", "adversarial.multiplier=1.0", "train.epochs=5"]),
    "pgd": ("configs/fashion_mnist_small_cnn_pgd.yaml", ["adversarial.iterations=5", "train.epochs=5"]),
    "trades": ("configs/fashion_mnist_small_cnn_trades.yaml", ["adversarial.iterations=5", "train.epochs=5"]),
    "fast": ("configs/fashion_mnist_small_cnn_fast.yaml", []),
    # small_cnn widened to Madry et al.'s MNIST network, TRADES PGD-5 for 12 epochs: about 26 minutes.
    "trades_wide": ("configs/fashion_mnist_small_cnn_trades_wide.yaml", []),
}


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="training config overrides applied to every method (e.g. train.epochs=5)")
    parser.add_argument("--aa-examples", type=int, default=1000, help="test images AutoAttack runs on")
    parser.add_argument("--out", default="runs/method_table")
    parser.add_argument("--again", action="store_true", help="measure rows already in <out>/table.json again")
    parser.add_argument("--reuse-trained", action="store_true",
                        help="evaluate a method's model again without training it, when <out>/<method>/model and its "
                             "train_seconds.json exist")
    return parser.parse_args(argv)


def _run(command: List[str], log_path: str) -> float:
    start = time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"method_table: {' '.join(command)} exited with {code}; its output is in {log_path}")
    return time.perf_counter() - start


def _row(method: str, args: argparse.Namespace) -> dict:
    config, overrides = METHODS[method]
    out = os.path.join(args.out, method)
    os.makedirs(out, exist_ok=True)
    train = [sys.executable, "-m", "robustkit.train", "--config", config,
             "--set", f"run.dir={os.path.join(out, 'train')}",
             "--set", "data.train_limit=null", "--set", "data.eval_limit=null",
             "--set", f"export.dir={out}", "--set", "export.name=model", "--set", "run.seed=0"]
    for override in overrides + args.overrides:
        train += ["--set", override]
    timing = os.path.join(out, "train_seconds.json")
    if args.reuse_trained and os.path.isfile(timing) and os.path.isdir(os.path.join(out, "model")):
        with open(timing) as f:
            train_seconds = json.load(f)["train_seconds"]
    else:
        train_seconds = _run(train, os.path.join(out, "train.log"))
        with open(timing, "w") as f:
            json.dump({"train_seconds": train_seconds}, f)
    validate = [sys.executable, "-m", "robustkit.validate_adv", "--config", "configs/validate_method_table.yaml",
                "--model", f"{method}={os.path.join(out, 'model')}", "--out", os.path.join(out, "validate"),
                "--set", f"attacks.autoattack.max_examples={args.aa_examples}"]
    validate_seconds = _run(validate, os.path.join(out, "validate.log"))
    with open(os.path.join(out, "validate", "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(out, "validate", "robustbench", f"{method}.json")) as f:
        robustbench = json.load(f)
    scores = metrics["models"][method]
    with open(os.path.join(out, "train", "metrics.json")) as f:
        train_metrics = json.load(f)
    return {
        "method": method,
        "config": config,
        "overrides": overrides + args.overrides,
        "epochs": train_metrics.get("epochs"),
        "train_seconds": round(train_seconds, 1),
        "clean": scores["clean_accuracy"],
        "pgd20": scores["attacks"]["pgd"][0]["accuracy"],
        "autoattack": robustbench["autoattack_acc"],
        "autoattack_clean": robustbench["clean_acc"],
        "autoattack_examples": robustbench["n_examples"],
        "autoattack_stages": robustbench["stage_accuracies"],
        "validate_seconds": round(validate_seconds, 1),
        "train_metrics": {k: v for k, v in train_metrics.items() if isinstance(v, (int, float, str))},
    }


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    os.makedirs(args.out, exist_ok=True)
    table_path = os.path.join(args.out, "table.json")
    rows = {}
    if os.path.exists(table_path):
        with open(table_path) as f:
            rows = {row["method"]: row for row in json.load(f)}
    for method in args.methods:
        if method in rows and not args.again:
            print(f"{method}: already measured ({table_path})")
            continue
        row = _row(method, args)
        if os.path.exists(table_path):  # Rows another run of this script added meanwhile stay.
            with open(table_path) as f:
                rows = {r["method"]: r for r in json.load(f)}
        rows[method] = row
        tmp = table_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump([rows[m] for m in METHODS if m in rows], f, indent=2)
        os.replace(tmp, table_path)
        print(f"{method}: clean {row['clean']:.4f}  pgd20 {row['pgd20']:.4f}  autoattack {row['autoattack']:.4f} "
              f"({row['autoattack_examples']})  train {row['train_seconds'] / 60:.1f} min", flush=True)
    print("| method | clean | PGD-20 | AutoAttack | train (min) |")
    print("|---|---|---|---|---|")
    for method in METHODS:
        if method in rows:
            row = rows[method]
            print(f"| {method} | {row['clean']:.4f} | {row['pgd20']:.4f} | {row['autoattack']:.4f} "
                  f"(first {row['autoattack_examples']}) | {row['train_seconds'] / 60:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
