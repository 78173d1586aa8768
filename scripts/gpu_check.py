"""What robustkit does on this machine's GPUs, in one run of at most about 8 minutes (scripts/gpu_check.sh).

    scripts/gpu_check.sh                       # writes runs/gpu_check/gpu_check.json
    scripts/gpu_check.sh --budget 300          # a shorter run: fewer steps and images

Refuses, with exit status 3, when TensorFlow sees no GPU: the figures are GPU
figures, and a run that quietly measured the CPU would be mistaken for them.

Each part runs in its own process with its own time limit, so that one slow or
hung part costs only its share; every part's JSON goes into gpu_check.json with
its wall time and exit status:

1. ``devices``: the GPUs TensorFlow sees, with their compute capability.
2. ``train``: MobileNetV2 (alpha 1.0, 64x64, 200 classes; `scripts/bench_train.py`)
   plain and NSL, float32 and mixed_bfloat16, under MirroredStrategy over every
   GPU, examples/s; then the input pipeline on a generated Tiny-ImageNet tree of
   real JPEGs, examples/s.
3. ``autoattack``: AutoAttack standard (L-inf, 0.1) on 1,000 Fashion-MNIST test
   images against a small_cnn trained for one epoch (`scripts/bench_autoattack.py`).
4. ``separation``: exact train-train separation of the 60,000 x 784
   Fashion-MNIST training set, L2 and L-inf (`scripts/bench_separation.py`).
5. ``cpu``: the same run's CPU figures beside them (``CUDA_VISIBLE_DEVICES=""``):
   plain float32 training of the same model and AutoAttack on 100 images.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_GPU_EXIT = 3
# Share of the budget each part may use (the rest is start-up and the device probe).
SHARES = {"train": 0.36, "autoattack": 0.2, "separation": 0.14, "cpu": 0.22}


def _parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join("runs", "gpu_check", "gpu_check.json"))
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check (default 480)")
    parser.add_argument("--batch-size", type=int, default=256, help="global training batch (default 256)")
    return parser.parse_args(argv)


def _probe() -> Dict[str, Any]:
    code = (
        "import json, robustkit, tensorflow as tf\n"
        "gpus = tf.config.list_physical_devices('GPU')\n"
        "details = [tf.config.experimental.get_device_details(g) for g in gpus]\n"
        "print(json.dumps({'gpus': [g.name for g in gpus], 'details': details,\n"
        "                  'cuda': tf.sysconfig.get_build_info().get('cuda_version'),\n"
        "                  'tensorflow': tf.__version__}, default=str))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"the device probe failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _part(name: str, command: List[str], timeout: float, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Runs one benchmark script with ``--out``; its JSON, wall time and status."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, f"{name}.json")
        started = time.perf_counter()
        print(f"gpu_check: {name}: {' '.join(command[1:])}", flush=True)
        try:
            proc = subprocess.run([*command, "--out", out], cwd=ROOT, capture_output=True, text=True,
                                  timeout=max(timeout, 30.0), env={**os.environ, **(env or {})})
            status, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
        except subprocess.TimeoutExpired:
            status, tail = "timed out", f"stopped after {timeout:.0f}s"
        record: Dict[str, Any] = {"seconds": round(time.perf_counter() - started, 1), "status": status}
        if os.path.exists(out):
            with open(out) as f:
                record["result"] = json.load(f)
        else:
            record["output_tail"] = tail
        print(f"gpu_check: {name}: {status} in {record['seconds']}s", flush=True)
        return record


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse(argv)
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        print("gpu_check: no GPU visible: CUDA_VISIBLE_DEVICES is empty. This check measures GPUs and refuses to "
              "measure the CPU in their place; run it where `nvidia-smi` lists a GPU, without hiding it.",
              file=sys.stderr)
        return NO_GPU_EXIT
    devices = _probe()
    if not devices["gpus"]:
        print("gpu_check: no GPU visible: TensorFlow lists no GPU device (CUDA_VISIBLE_DEVICES="
              f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r}; TensorFlow {devices['tensorflow']} built for "
              f"CUDA {devices['cuda']}). This check measures GPUs and refuses to measure the CPU in their place; "
              "install the CUDA build (.venv/bin/pip install -e '.[gpu]') and run it where `nvidia-smi` lists a GPU.",
              file=sys.stderr)
        return NO_GPU_EXIT
    budget = {name: share * args.budget for name, share in SHARES.items()}
    py = sys.executable
    train = [py, "scripts/bench_train.py", "--set", "model.alpha=1.0", "--set", "distribute.strategy=mirrored",
             "--batch-size", str(args.batch_size), "--steps", "20", "--variants", "nsl", "--jpegs", "4000"]
    report: Dict[str, Any] = {"devices": devices, "budget_seconds": args.budget, "machine": {
        "platform": platform.platform(), "cpus": os.cpu_count()}}
    started = time.perf_counter()
    report["train"] = {
        "float32": _part("train_float32", train, budget["train"] * 0.55),
        "mixed_bfloat16": _part("train_bfloat16", [*train, "--set", "train.precision=mixed_bfloat16",
                                                   "--skip-pipeline"], budget["train"] * 0.45),
    }
    report["autoattack"] = _part("autoattack", [py, "scripts/bench_autoattack.py", "--skip-art", "--aa-examples",
                                                "1000", "--examples", "1000"], budget["autoattack"])
    report["separation"] = _part("separation", [py, "scripts/bench_separation.py", "--skip-sklearn"],
                                 budget["separation"])
    cpu = {"CUDA_VISIBLE_DEVICES": ""}
    report["cpu"] = {
        "train_float32": _part("cpu_train", [py, "scripts/bench_train.py", "--set", "model.alpha=1.0",
                                             "--batch-size", "64", "--steps", "5", "--variants", "plain",
                                             "--skip-pipeline"], budget["cpu"] * 0.6, env=cpu),
        "autoattack_100": _part("cpu_autoattack", [py, "scripts/bench_autoattack.py", "--skip-art", "--aa-examples",
                                                   "100", "--examples", "100"], budget["cpu"] * 0.4, env=cpu),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sys.path.insert(0, ROOT)
    from robustkit import outputs  # noqa: E402  (no TensorFlow in this process)

    outputs.write_text(args.out, json.dumps(report, indent=2, default=str) + "\n")
    print(f"gpu_check: {args.out}")
    failed = [k for k, v in report.items() if isinstance(v, dict) and v.get("status") not in (None, 0)]
    failed += [f"{k}.{kk}" for k, v in report.items() if isinstance(v, dict)
               for kk, vv in v.items() if isinstance(vv, dict) and vv.get("status") not in (None, 0)]
    if failed:
        print(f"gpu_check: parts that did not finish: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
