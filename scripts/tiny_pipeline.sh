#!/usr/bin/env bash
# The main job on the embedded tiny default, end to end on CPU: `bash scripts/tiny_pipeline.sh [RUN_DIR]`.
#   1. build the tiny offline model (random LLaDA architecture + BPE tokenizer trained on the local stdlib)
#   2. SFT with AST-weighted masking under DeepSpeed ZeRO-2 + LoRA on 2 ranks
#   3. coupled-GRPO from the SFT adapter with sandboxed execution rewards (2 ranks)
#   4. repair-pair synthesis from diffusion trajectories, with pair statistics
#   5. trace-guided remasking evaluation on 6 MBPP+ problems -> report.md + figures
# Numbers are meaningless on a random tiny model; every stage runs for real.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/tiny}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
NGPU=${NGPU:-2}
stage() { echo; echo "=== $* ==="; }

stage "1/5 tiny model"
[ -f "$RUN/model/config.json" ] || python scripts/make_tiny_model.py --out "$RUN/model"

stage "2/5 SFT (AST masking, ZeRO-2 + LoRA, $NGPU ranks)"
deepspeed --num_gpus "$NGPU" train/sft.py --config configs/sft/tiny.yaml model="$RUN/model" output_dir="$RUN/sft"
python -m inference.generate --model "$RUN/sft/final/adapter" --gen-length 32 --steps 32 --block-length 32 \
  --prompt $'def add(a, b):\n    """Return the sum of a and b."""\n'

stage "3/5 coupled-GRPO from the SFT adapter ($NGPU ranks)"
deepspeed --num_gpus "$NGPU" rl/grpo.py --config configs/rl/tiny.yaml model="$RUN/model" \
  init_adapter="$RUN/sft/final/adapter" output_dir="$RUN/rl" max_steps=3
POLICY="$RUN/rl/final/merged"

stage "4/5 repair-pair synthesis"
python -m repair.synthesize --model "$POLICY" --out "$RUN/pairs.jsonl" --num-samples 16
python -m repair.pair_stats "$RUN/pairs.jsonl" --figure "$RUN/pairs.png"

stage "5/5 trace-guided repair evaluation (MBPP+, 6 problems)"
python -m repair.evaluate --model "$POLICY" --dataset mbpp --limit 6 --gen-length 64 --steps 16 --repair-steps 8 \
  --budget-k 16 --seeds 0 --out "$RUN/eval"
echo; echo "report: $RUN/eval/report.md"
