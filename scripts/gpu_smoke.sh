#!/usr/bin/env bash
# One-GPU smoke test of every job on a paper-size model, with no network (docs/gpu.md):
#   bash scripts/gpu_smoke.sh --random-weights [--arch llada|dream] [OUT]     LLaDA-8B / Dream-7B, random bf16 weights
#   bash scripts/gpu_smoke.sh [--model DIR_OR_HUB_ID] [OUT]                    the real checkpoint (cached or downloaded)
#   bash scripts/gpu_smoke.sh --random-weights --cpu-check [OUT]               the same stages, one-layer model, on CPU
# Stages (scripts/gpu_smoke.py): checks (GPU, local MBPP+, free disk) -> model -> 10 LoRA r64 ZeRO-2 SFT steps at
# sequence 4096 -> 2 coupled-GRPO steps (G = 4, 256 tokens) -> 4 synthesis samples -> repair.evaluate on 5 MBPP+
# problems; each prints peak GPU memory beside its estimate, tokens/s and MFU. OUT defaults to runs/gpu-smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " != *" --cpu-check "* && " $* " != *" -h "* && " $* " != *" --help "* ]]; then
  if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_smoke.sh: no CUDA GPU visible to torch (torch.cuda.is_available() is False): nothing to validate here." >&2
    echo "Run it on a GPU node (docs/gpu.md); on a CPU, --cpu-check runs the same stages on a one-layer model." >&2
    exit 2
  fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
exec python scripts/gpu_smoke.py "$@"
