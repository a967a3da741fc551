#!/usr/bin/env bash
# The GPU table in one command, on a machine with a CUDA GPU: a virtual environment with memorynet and the
# CUDA build of torch (never run this in CI: that build is several GB), then benchmarks/gpu_table.py.
#   bash benchmarks/gpu.sh --data-dir ../shared/data
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install -q -e . torch
.venv-gpu/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible to torch'"
.venv-gpu/bin/python benchmarks/gpu_table.py "$@"
