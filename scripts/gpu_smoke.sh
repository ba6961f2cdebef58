#!/usr/bin/env bash
# Paper-scale smoke test on a GPU node: `bash scripts/gpu_smoke.sh [RUN_DIR]` (NGPU=8 by default, MODEL to override).
#   0. stop at once, with a message, when no CUDA GPU is visible
#   1. memory estimate of LLaDA-8B ZeRO-2 + LoRA (scripts/bench/sft_step.py) to compare with what is measured
#   2. 10 SFT steps, ZeRO-2 + LoRA, TreeDiff config on LLaDA-8B-Instruct   -> tokens/s from metrics.jsonl
#   3. 2 coupled-GRPO steps                                                 -> step times from metrics.jsonl
#   4. 5 MBPP+ problems through repair.evaluate (no-repair, trace-guided; paper settings, data-parallel on NGPU ranks)
# Each stage prints the peak GPU memory (nvidia-smi, max over GPUs) beside the estimate. Needs the Hub weights
# (GSAI-ML/LLaDA-8B-Instruct) in the HF cache or network access, and evalplus' MBPP+ (or MBPP_OVERRIDE_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_smoke.sh: no CUDA GPU visible to torch (torch.cuda.is_available() is False): nothing to validate here." >&2
  echo "Run it on a GPU node; on CPU use scripts/tiny_pipeline.sh instead." >&2
  exit 2
fi
RUN=${1:-runs/gpu-smoke}
NGPU=${NGPU:-$(python -c "import torch; print(torch.cuda.device_count())")}
MODEL=${MODEL:-GSAI-ML/LLaDA-8B-Instruct}
mkdir -p "$RUN"
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false

nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$RUN/gpu_mem.log" &
SMI=$!
trap 'kill $SMI 2>/dev/null || true' EXIT
mark() { wc -l < "$RUN/gpu_mem.log"; }
peak() { tail -n +"$1" "$RUN/gpu_mem.log" | sort -n | tail -1 | awk '{printf "peak GPU memory %.1f GiB (max over GPUs)\n", $1 / 1024}'; }
stage() { echo; echo "=== $* ==="; }

stage "1/4 memory estimate (LLaDA-8B, LoRA r64, ZeRO-2, bf16, $NGPU GPUs)"
python -c "
import sys; sys.path.insert(0, 'scripts/bench')
from sft_step import memory_estimate
parts = memory_estimate(n_gpus=$NGPU)
[print(f'  {k}: {v:.1f} GiB') for k, v in parts.items()]
print(f'  total estimate per GPU: {sum(parts.values()):.1f} GiB')"

stage "2/4 SFT: 10 ZeRO-2 LoRA steps on $NGPU GPUs"
m=$(mark)
deepspeed --num_gpus "$NGPU" train/sft.py --config configs/sft/llada8b-treediff.yaml model="$MODEL" \
  output_dir="$RUN/sft" max_steps=10
peak "$m"
python -c "
import json; rows = [json.loads(l) for l in open('$RUN/sft/metrics.jsonl') if 'tokens_per_s' in l]
print('SFT tokens/s (per step, last 5):', [round(r['tokens_per_s']) for r in rows[-5:]])"

stage "3/4 coupled-GRPO: 2 steps on $NGPU GPUs"
m=$(mark)
deepspeed --num_gpus "$NGPU" rl/grpo.py --config configs/rl/llada8b-coupled.yaml model="$MODEL" \
  output_dir="$RUN/rl" max_steps=2
peak "$m"
python -c "
import json; rows = [json.loads(l) for l in open('$RUN/rl/metrics.jsonl')]
print('RL step metrics:', [{k: v for k, v in r.items() if k.startswith('time') or k == 'step'} for r in rows])"

stage "4/4 repair.evaluate: 5 MBPP+ problems, $NGPU ranks (torchrun)"
m=$(mark)
START=$(date +%s)
torchrun --nproc_per_node "$NGPU" -m repair.evaluate --model "$MODEL" --dataset mbpp --limit 5 --seeds 0 \
  --strategies no-repair,trace-guided --batch-size 1 --out "$RUN/eval"
peak "$m"
python -c "
import json; r = json.load(open('$RUN/eval/results.json'))['strategies']
for name, e in r.items():
    print(f\"{name}: NFE/problem {e['nfe_mean']:.0f}, {e['seconds_per_problem']:.1f} s/problem\")
print('wall for the evaluation stage: $(( $(date +%s) - START )) s')"
echo; echo "done: $RUN (gpu_mem.log, sft/, rl/, eval/report.md)"
