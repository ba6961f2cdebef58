#!/usr/bin/env bash
# Set up the project in ./.venv: `bash scripts/setup.sh` (idempotent; rerun after pulling).
# torch: if .venv already has an importable torch (e.g. your CUDA build, installed first with
#   python -m venv .venv && .venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cu124)
# it is kept; otherwise TORCH_SPEC is installed (default torch==2.13.0, the CPU build these machines carry).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
PY=.venv/bin/python
if ! $PY -c "import torch" 2>/dev/null; then
  $PY -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
$PY -m pip install -q -e ".[dev]"
echo "setup done: $($PY -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")')"
