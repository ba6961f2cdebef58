# Shared by minicode/main.sh and minicode/full.sh (sourced, not run): settings, `stage`, and the first three stages of
# the main job (build, sft, evaluate), which --full runs too.
# stage NAME TITLE FUNCTION [ARGS...]: runs FUNCTION ARGS once; its wall seconds go to $RUN/stages/NAME (the done marker, so a
# rerun skips the stage; delete the file to redo it). The entry points resume on their own within a stage.
# Overrides for a quick check of the wiring (e.g. SFT_ARGS="max_steps=30" RL_ARGS="max_steps=2" EVAL_NUM=16): extra
# key=value arguments of every SFT / GRPO launch, and the number of eval problems. Results then mean nothing.
read -r -a SFT_ARGS <<< "${SFT_ARGS:-}"
read -r -a RL_ARGS <<< "${RL_ARGS:-}"
EVAL_NUM=${EVAL_NUM:-200}
# the launcher of every SFT / GRPO stage; MASTER_PORT lets two runs share a machine (the launcher's default: 29500)
DEEPSPEED=(deepspeed --log_level=warning --num_gpus "$NGPU" --master_port "${MASTER_PORT:-29500}")
GEN=${GEN:-96}  # completion tokens: the longest canonical minicode bodies are ~86 tokens with the small tokenizer
# repair.evaluate settings of every minicode evaluation: the paper's S = K = 64 at L = 512 scaled to L = 96 -> 12;
# R = 3, tau = 0.2 as the paper; N = EVAL_STEPS stage-1 steps: the main job's N = L (one token per step), where the
# paper commits 4 per step (N = 128, L = 512); --full sets its own.
EVAL_STEPS=${EVAL_STEPS:-$GEN}
EVAL_ARGS=(--problems "$RUN/eval.jsonl" --seeds 0 --gen-length "$GEN" --block-length "$GEN" --steps "$EVAL_STEPS"
           --repair-steps 12 --budget-k 12 --rounds 3 --batch-size 8)

stage() {
  local name=$1 title=$2 fn=$3
  shift 3
  mkdir -p "$RUN/stages"
  if [ -f "$RUN/stages/$name" ]; then
    echo "=== $title: done ($(cat "$RUN/stages/$name") s), skipped ==="
    return
  fi
  echo; echo "=== $title ==="
  local t0=$SECONDS
  "$fn" "$@"
  echo $((SECONDS - t0)) > "$RUN/stages/$name"
}

SFT="$RUN/sft/final/merged"
EVAL_SEED=${EVAL_SEED:-1}
build() {
  python scripts/make_tiny_model.py --preset small --out "$RUN/model"
  python -m data.minicode --split eval --num "$EVAL_NUM" --seed "$EVAL_SEED" --out "$RUN/eval.jsonl"
  python -m data.minicode --split rl --num 64 --seed 0 --asserts --out "$RUN/rl_prompts.jsonl"
}
sft() {
  "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml \
    model="$RUN/model" output_dir="$RUN/sft" "${SFT_ARGS[@]}"
}
evaluate() {
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" --strategies no-repair,trace-guided --out "$RUN/eval"
}
