#!/usr/bin/env bash
# One command for a machine with GPUs: training (plain and NSL, float32 and mixed_bfloat16, every GPU),
# the input pipeline, AutoAttack and exact separation, timed beside the same run's CPU figures, in at
# most about 8 minutes. Writes runs/gpu_check/gpu_check.json. Exits 3, naming what is missing, when
# no GPU is visible. Options: see scripts/gpu_check.py (--budget SECONDS, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "gpu_check: $PY not found; run 'make setup' first (or set PYTHON)" >&2
  exit 2
fi
exec "$PY" scripts/gpu_check.py "$@"
