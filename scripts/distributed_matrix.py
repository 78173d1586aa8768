#!/usr/bin/env python
"""Reliability of training and export under every strategy: a matrix, then a soak.

Matrix: model x {plain, nsl} x {default, mirrored, multi_worker} x {uninterrupted,
killed and resumed}. Each cell trains a short run through ``python -m
robustkit.train`` (two local processes for multi_worker, two logical CPUs for
mirrored), kills one worker (or the only process) with SIGKILL after its first
epoch in the killed cells and reruns the same command, then loads the export in a
TensorFlow-only process and compares its logits on probe images with the
``logits`` the training process computed from the trained weights outside the
strategy (``export checked`` in its log). Reported per cell: exported (exactly one
version), predictions equal, wall time.

Soak (``--soak N``): N two-worker runs of a config, each with a worker killed at
a random moment and the pair restarted; each must finish with one complete
export, and its final validation accuracy is compared with an uninterrupted run.

    .venv/bin/python scripts/distributed_matrix.py --out runs/distributed_matrix.json
    .venv/bin/python scripts/distributed_matrix.py --models small_cnn --soak 10 \\
        --config configs/quickstart_nsl.yaml --set train.init_from=null --set data.train_limit=2048 \\
        --set data.eval_limit=512
"""

import argparse
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "small_cnn": ["model.name=small_cnn", "model.input_size=28", "model.dropout=0.0"],
    "mobilenetv2": ["model.name=mobilenetv2", "model.input_size=32", "model.alpha=0.35", "model.dropout=0.0",
                    "model.bn_momentum=0.5"],
}
METHODS = {"plain": ["adversarial.enabled=false"],
           "nsl": ["adversarial.enabled=true", "adversarial.step_size=0.05", "adversarial.multiplier=0.2"]}
STRATEGIES = {"default": ["distribute.strategy=default"],
              "mirrored": ["distribute.strategy=mirrored", 'distribute.devices=["/cpu:0","/cpu:1"]'],
              "multi_worker": ["distribute.strategy=multi_worker"]}
_LOAD = """
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
image = loaded.signatures["serve_float"].structured_input_signature[1]["image"]
size, channels = image.shape[1], image.shape[3]
probe = tf.random.stateless_uniform([8, size, size, channels], seed=[20, 11])
print(float(tf.reduce_max(tf.abs(loaded.signatures["serve_float"](image=probe)["logits"]))))
"""


def _ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(args, strategy, cwd):
    """The training processes; their output goes to files (a full pipe would stall the other worker)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    command = [sys.executable, "-m", "robustkit.train", *args]
    envs = [env]
    if strategy == "multi_worker":
        workers = [f"localhost:{p}" for p in _ports(2)]
        configs = [{"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}} for i in range(2)]
        envs = [dict(env, TF_CONFIG=json.dumps(c)) for c in configs]
    procs = []
    for i, env_i in enumerate(envs):
        stamp = f"{time.monotonic_ns()}-{i}"
        with open(os.path.join(cwd, f"out-{stamp}.txt"), "w") as out, \
                open(os.path.join(cwd, f"err-{stamp}.txt"), "w") as err:
            proc = subprocess.Popen(command, env=env_i, cwd=cwd, stdout=out, stderr=err, text=True)
        proc.output_paths = (out.name, err.name)
        procs.append(proc)
    return procs


def _finish(procs):
    """``(stdout, stderr)`` of each process once it has ended."""
    for proc in procs:
        proc.wait(timeout=3600)
    return [tuple(open(p, encoding="utf-8", errors="replace").read() for p in proc.output_paths) for proc in procs]


def _versions(root):
    """The numbered versions under an export root (a killed export's hidden .N.tmp-* is none)."""
    return sorted(v for v in os.listdir(root) if v.isdigit()) if os.path.isdir(root) else []


def _epochs(history):
    try:
        with open(history, encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _train(args, strategy, run_dir, kill_after: float = None):
    """Runs (and with ``kill_after`` kills after that many seconds past the first epoch, then reruns)."""
    history = os.path.join(run_dir, "history.csv")
    procs = _start(args, strategy, run_dir)
    killed = False
    if kill_after is not None:
        while not _epochs(history) and all(p.poll() is None for p in procs):
            time.sleep(0.2)
        time.sleep(kill_after)
        if all(p.poll() is None for p in procs):
            os.kill(procs[-1].pid, signal.SIGKILL)
            killed = True
    outputs = _finish(procs)
    if killed:
        procs = _start(args, strategy, run_dir)
        outputs = _finish(procs)
    return [p.returncode for p in procs], outputs, killed


def _cell(base_args, strategy, killed, workdir):
    run_dir = tempfile.mkdtemp(prefix=f"{strategy}-", dir=workdir)
    args = [*base_args, "--set", f"run.dir={run_dir}", "--set", f"export.dir={run_dir}/exports", "--set",
            "export.name=m"]
    start = time.perf_counter()
    codes, outputs, was_killed = _train(args, strategy, run_dir, 1.0 if killed else None)
    seconds = time.perf_counter() - start
    root = os.path.join(run_dir, "exports", "m")
    versions = sorted(v for v in os.listdir(root) if v.isdigit()) if os.path.isdir(root) else []  # Not .N.tmp-*
    checked = "export checked" in outputs[0][1]
    loaded = False
    if versions == ["1"]:
        proc = subprocess.run([sys.executable, "-c", _LOAD, os.path.join(root, "1")], capture_output=True,
                              text=True, env={"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"})
        loaded = proc.returncode == 0
    rows = _epochs(os.path.join(run_dir, "history.csv"))
    return {"exit_codes": codes, "killed": was_killed, "exported_one_version": versions == ["1"],
            "predictions_equal": checked and loaded, "wall_seconds": round(seconds, 1),
            "epochs_recorded": len(rows), "val_accuracy": float(rows[-1]["val_accuracy"]) if rows else None,
            "error": None if all(c == 0 for c in codes) else outputs[0][1][-1500:]}


def _write(path, results) -> None:
    """Writes the results so far (after every cell: a long matrix can be read while it runs)."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        os.replace(path + ".tmp", path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/fashion_mnist_small_cnn.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--soak", type=int, default=0, help="two-worker runs with a random kill (after the matrix)")
    parser.add_argument("--no-matrix", action="store_true")
    parser.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args(argv)
    small = ["data.train_limit=256", "data.eval_limit=64", "train.epochs=3", "train.steps_per_epoch=4",
             "train.batch_size=16", "train.tensorboard=false", "train.progress=false"]
    workdir = tempfile.mkdtemp(prefix="robustkit-matrix-")
    results = {"matrix": [], "soak": []}
    if not args.no_matrix:
        for model in args.models:
            for method in args.methods:
                for strategy in args.strategies:
                    for killed in (False, True):
                        sets = [*small, *MODELS[model], *METHODS[method], *STRATEGIES[strategy], *args.overrides]
                        base = ["--config", os.path.join(ROOT, args.config)] + [x for s in sets for x in ("--set", s)]
                        cell = {"model": model, "method": method, "strategy": strategy, "interrupted": killed,
                                **_cell(base, strategy, killed, workdir)}
                        results["matrix"].append(cell)
                        _write(args.out, results)
                        print(f"{model:12s} {method:6s} {strategy:13s} {'killed' if killed else 'clean':7s} "
                              f"exported={cell['exported_one_version']!s:5s} equal={cell['predictions_equal']!s:5s} "
                              f"{cell['wall_seconds']:7.1f} s", flush=True)
    if args.soak:
        base = ["--config", os.path.join(ROOT, args.config), "--set", "distribute.strategy=multi_worker",
                *[x for s in ["train.tensorboard=false", "train.progress=false", *args.overrides]
                  for x in ("--set", s)]]
        reference = _cell(base, "multi_worker", False, workdir)
        results["soak_reference"] = reference
        rng = random.Random(0)
        for i in range(args.soak):
            run_dir = tempfile.mkdtemp(prefix="soak-", dir=workdir)
            a = [*base, "--set", f"run.dir={run_dir}", "--set", f"export.dir={run_dir}/exports", "--set",
                 "export.name=m"]
            start = time.perf_counter()
            codes, outputs, killed = _train(a, "multi_worker", run_dir, rng.uniform(0.0, 20.0))
            rows = _epochs(os.path.join(run_dir, "history.csv"))
            root = os.path.join(run_dir, "exports", "m")
            entry = {"run": i, "killed": killed, "exit_codes": codes,
                     "exported_one_version": _versions(root) == ["1"],
                     "val_accuracy": float(rows[-1]["val_accuracy"]) if rows else None,
                     "wall_seconds": round(time.perf_counter() - start, 1)}
            results["soak"].append(entry)
            _write(args.out, results)
            print(f"soak {i}: {entry}", flush=True)
    _write(args.out, results)
    bad = [c for c in results["matrix"] if not (c["exported_one_version"] and c["predictions_equal"])]
    bad += [s for s in results["soak"] if not s["exported_one_version"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
