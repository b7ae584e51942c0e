#!/usr/bin/env bash
# Check the torch backend on a machine with a CUDA GPU, in under 5 minutes:
#   1. the torch tests, with DPKIT_REQUIRE_TORCH=1 so that none may skip for lack of torch
#      (this includes the float64 parity of a CUDA step with a CPU step);
#   2. one timed epoch of the tanh CNN on Fashion-MNIST on the GPU, with the epoch's
#      test accuracy and epsilon.
# Run from the repository root: bash benchmarks/gpu_check.sh [python]
set -euo pipefail

python="${1:-.venv/bin/python}"

if ! "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch finds no CUDA GPU here; run this script on a machine with one" >&2
    exit 1
fi
"$python" -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"

echo "== torch backend tests (CPU and CUDA) =="
DPKIT_REQUIRE_TORCH=1 timeout 180 "$python" -m pytest -q tests/test_torch_backend.py

echo "== one epoch of the CNN on Fashion-MNIST, on the GPU =="
start=$SECONDS
timeout 240 "$python" -m dpkit train --dataset fashion-mnist --backend torch --device cuda --model cnn \
    --noise-multiplier 1.1 --clip-norm 1.0 --lot-size 1024 --batch-size 1024 --epochs 1 \
    --learning-rate 4 --delta 1e-5 --seed 0
echo "wall time of the epoch, data loading and evaluation included: $((SECONDS - start)) s"
