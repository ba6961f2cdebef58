#!/usr/bin/env bash
# minicode, the main job: a small diffusion model learns to write Python on this CPU, through the framework's own
# entry points. `bash scripts/minicode.sh [RUN_DIR]` (default runs/minicode; ~36 minutes on 2 cores: SFT 16-18, RL 13.5):
#   1. the small model (random LLaDA architecture, digit-splitting BPE that has seen minicode) + 200 fresh eval problems
#   2. SFT from scratch (full fine-tune) on minicode `train` under deepspeed, 2 ranks
#   3. repair.evaluate on `eval`: no-repair and trace-guided pass@1 on held-out tests, in the real sandbox
#   4. coupled-GRPO from the SFT model on `rl` prompts (2 ranks), then the RL model's pass@1 on the same problems
#   5. repair-pair synthesis from the SFT model's trajectories
#   6. the fast sampler modes (Fast-dLLM threshold, + prefix cache): pass@1 and tokens/s
# Every stage is resumable: a rerun skips what is done. Writes RUN_DIR/summary.json (and prints it).
# `bash scripts/minicode.sh --full [RUN_DIR]` (default runs/minicode-full; ~8.2 h) runs the papers in miniature:
# see minicode/full.sh and RUN_DIR/report.md. (scripts/minicode.sh, the user's command, runs this file.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--full" ]; then shift; exec bash minicode/full.sh "$@"; fi
RUN=${1:-runs/minicode}
NGPU=${NGPU:-2}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false DS_ACCELERATOR=${DS_ACCELERATOR:-cpu}
. minicode/lib.sh  # build, sft, evaluate: the stages --full shares
mkdir -p "$RUN"

rl() {
  "${DEEPSPEED[@]}" rl/grpo.py --config configs/rl/minicode.yaml \
    model="$SFT" output_dir="$RUN/rl" "${RL_ARGS[@]}"
  # the RL model with the plain sampler on the same problems and seeds as stage 3's SFT figure: the paired gain
  python -m repair.evaluate --model "$RUN/rl/final/merged" "${EVAL_ARGS[@]}" --strategies no-repair --out "$RUN/eval-rl"
}
synthesize() {
  python -m repair.synthesize --model "$SFT" --prompts "$RUN/rl_prompts.jsonl" --out "$RUN/pairs.jsonl" \
    --num-samples 64 --gen-length "$GEN" --steps "$GEN" --block-length "$GEN" --temperature 1.0 \
    --require-fixed-parses --check-tests
}
fast() {
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" --strategies no-repair --threshold 0.9 \
    --out "$RUN/eval-threshold"
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" --strategies no-repair --threshold 0.9 \
    --prefix-cache --out "$RUN/eval-threshold-cache"
}

stage model "1/6 small model, $EVAL_NUM fresh eval problems (seed $EVAL_SEED), RL prompts" build
stage sft "2/6 SFT from scratch on minicode train ($NGPU ranks, full fine-tune)" sft
stage eval "3/6 repair.evaluate: no-repair and trace-guided on the eval problems" evaluate
stage rl "4/6 coupled-GRPO from the SFT model ($NGPU ranks) and its pass@1" rl
stage synth "5/6 repair-pair synthesis from the SFT model's trajectories" synthesize
stage fast "6/6 fast sampler modes (threshold, + prefix cache) on the SFT model" fast

python -m minicode.report summary "$RUN" --sft-model "$SFT" --rl-model "$RUN/rl/final/merged" \
  --evaluate-args "${EVAL_ARGS[@]}"
