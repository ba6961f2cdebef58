#!/usr/bin/env bash
# The main job on the embedded tiny default, end to end on CPU: `bash scripts/tiny_pipeline.sh [RUN_DIR]`.
# Builds the tiny offline model, fine-tunes it with AST-masked SFT under DeepSpeed ZeRO-2 + LoRA on 2 ranks,
# then samples from the fine-tuned adapter.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/tiny}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
NGPU=${NGPU:-2}

[ -f "$RUN/model/config.json" ] || python scripts/make_tiny_model.py --out "$RUN/model"
deepspeed --num_gpus "$NGPU" train/sft.py --config configs/sft/tiny.yaml model="$RUN/model" output_dir="$RUN/sft"
python -m inference.generate --model "$RUN/sft/final/adapter" --prompt $'def add(a, b):\n    """Return the sum of a and b."""\n' \
  --gen-length 32 --steps 32 --block-length 32
