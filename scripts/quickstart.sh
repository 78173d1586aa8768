#!/usr/bin/env bash
# The main job on real offline data: train on Fashion-MNIST and export.
# Run through 'make quickstart', which sets up .venv and the data first.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA_ARGS=()
if [ "${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" != /usr/share/datasets/fashion-mnist ]; then
  DATA_ARGS=(--set "data.dir=${FASHION_MNIST_DIR}")
fi

$PY -m robustkit.train --config configs/quickstart_base.yaml "${DATA_ARGS[@]}"

echo
echo "quickstart done:"
echo "  run directory : runs/quickstart_base (config.yaml, history.csv, metrics.json)"
echo "  exported model: saved_models/quickstart_base/<version>/"
