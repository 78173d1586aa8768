"""Accuracy of classifiers on test images really rotated, angle by angle, and in the worst case over angles.

    python scripts/rotation_robustness.py --model plain=saved_models/fashion_mnist_small_cnn_plain \
        --model rotation_set=saved_models/fashion_mnist_small_cnn_rotation_set

An outside check on training against a learned rotation set
(configs/fashion_mnist_small_cnn_rotation_set.yaml): the set is a CVAE's
approximation of rotations, so robustness inside it should carry over to
rotations done exactly (bilinear, about the centre, `robustkit.data.corruptions`).
Prints, per model, the accuracy at each angle of --angles on the first --limit
test images of the offline Fashion-MNIST, and the share of images classified
correctly at every angle within each |angle| bound (the worst case over those
angles), and writes them as JSON with --out.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import robustkit  # noqa: E402,F401  (TensorFlow set-up before the imports below)
import numpy as np  # noqa: E402

from robustkit import outputs  # noqa: E402
from robustkit.data import DataConfig, load_split  # noqa: E402
from robustkit.data.corruptions import rotate_batch  # noqa: E402
from robustkit.models.loading import load_model  # noqa: E402
from robustkit.models.paths import parse_model_flags  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", default=[], metavar="NAME=PATH", required=True)
    p.add_argument("--angles", type=float, nargs="+", default=[-40, -30, -20, -10, 0, 10, 20, 30, 40])
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX directory (default: the Debian package's)")
    p.add_argument("--out", help="write the figures as JSON here")
    args = p.parse_args()

    source = load_split(DataConfig(name="fashion_mnist", dir=args.data_dir), "test", args.limit)
    batches = list(source.dataset.batch(1000).as_numpy_iterator())
    images = np.concatenate([b["image"] for b in batches]).astype(np.float32) / 255.0  # uint8 -> [0, 1]
    labels = np.concatenate([b["label"] for b in batches]).astype(np.int64)
    models = {name: load_model(name, path) for name, path in parse_model_flags(args.model).items()}
    record = {"examples": int(len(labels)), "angles": args.angles, "models": {}}
    for name, model in models.items():
        correct = {}
        for angle in args.angles:
            rotated = rotate_batch(images, angle)
            predicted = np.concatenate([np.argmax(model(rotated[i:i + 500]).numpy(), axis=-1)
                                        for i in range(0, len(rotated), 500)])
            correct[angle] = predicted == labels
        bounds = sorted({abs(a) for a in args.angles})
        worst = {b: float(np.mean(np.all([correct[a] for a in args.angles if abs(a) <= b], axis=0))) for b in bounds}
        record["models"][name] = {"accuracy": {str(a): float(np.mean(c)) for a, c in correct.items()},
                                  "worst_case_within": {str(b): v for b, v in worst.items()}}
        print(f"{name}: " + "  ".join(f"{a:+g}: {np.mean(c):.3f}" for a, c in correct.items()))
        print(f"{name} worst case within: " + "  ".join(f"+-{b:g}: {v:.3f}" for b, v in worst.items()))
    if args.out:
        outputs.write_json(args.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
