#!/usr/bin/env bash
# The GPU table in one command, on a machine with a CUDA GPU (never in CI: a CUDA build of torch is several GB).
#   bash benchmarks/gpu.sh --data-dir ../shared/data [--out benchmarks/results]
# Uses the python3 already there when it has torch with CUDA (memorynet from this checkout, its other needs
# already installed); otherwise makes .venv-gpu with memorynet and torch.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c "import torch, sklearn, scipy, tqdm, threadpoolctl; assert torch.cuda.is_available()" 2>/dev/null; then
    PYTHONPATH=src exec python3 benchmarks/gpu_table.py "$@"
fi
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install -q -e . torch
.venv-gpu/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible to torch'"
.venv-gpu/bin/python benchmarks/gpu_table.py "$@"
