#!/usr/bin/env bash
# The main job on real offline data: train a base and an NSL-regularised MobileNetV2 on
# Fashion-MNIST, export both, and validate them side by side under attack. Run through
# 'make quickstart', which sets up .venv and the data.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA_ARGS=()
if [ "${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" != /usr/share/datasets/fashion-mnist ]; then
  DATA_ARGS=(--set "data.dir=${FASHION_MNIST_DIR}")
fi

for name in base nsl; do
  echo "== training quickstart_${name}"
  $PY -m robustkit.train --config "configs/quickstart_${name}.yaml" "${DATA_ARGS[@]}"
done

echo "== validating both under attack"
$PY -m robustkit.validate_adv --config configs/validate_quickstart.yaml \
  --model base=saved_models/quickstart_base --model nsl=saved_models/quickstart_nsl "${DATA_ARGS[@]}"

echo
echo "quickstart done:"
for name in base nsl; do
  echo "  runs/quickstart_${name}/      config.yaml history.csv metrics.json training_curves.png"
  echo "  saved_models/quickstart_${name}/$(ls saved_models/quickstart_${name} | sort -n | tail -1)/  the exported SavedModel"
done
echo "  runs/validate_quickstart/    report.html metrics.json robust_accuracy.csv accuracy_vs_eps.png examples.png"
