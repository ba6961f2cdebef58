#!/usr/bin/env bash
# The papers in miniature on minicode: `bash scripts/minicode.sh --full [RUN_DIR]` (default runs/minicode-full;
# ~2.6 hours on 2 cores: ~2 h measured 2026-12-04, + ~35 min for the full recipe). Runs the main job
# (minicode/main.sh) into RUN_DIR, then:
#   TreeDiff   SFT with masker=ast and masker=ast-span at the main job's steps, data order, seed and curriculum
#              schedule (the main job's SFT is the uniform row); no-repair pass@1 of each on the eval problems
#   Trace      repair.evaluate on the uniform model: no-repair, global-low-confidence, best-of-2, trace-guided and
#              the ablations (+ core-reimpl when the registry has it): Tables 1-3, McNemar, localization, edit distance
#   DiffuCoder coupled vs independent vs d1 GRPO from the uniform model with the main job's RL recipe, 2 forward
#              passes per estimate each (d1: two one-pass estimates averaged), 2 seeds: probe and reward curves,
#              held-out no-repair pass@1 after RL paired against the SFT model (McNemar)
#   CodeFusion repair SFT of the uniform model on diffusion-synthesized pairs vs rule-based pairs (repair.corrupt),
#              then noise-and-resume repair of held-out broken programs (eval problems) with each model: only
#              those that do not parse are scored (the others are dropped and counted), by execution match (the
#              problem's tests) and sketch match (the known fixed program up to names and literals), as the paper
#   Fast-dLLM  plain vs threshold vs threshold + prefix cache (from the main job)
#   Full       the full recipe: the main job's SFT config for FULL_STEPS (default 4,000) steps, cosine to 0 over all
#              of them (the main job's budget ends soon after copying switches on: docs/results.md), no-repair and trace-guided
# and writes RUN_DIR/report.md with the figures (python -m minicode.report full RUN_DIR).
# Every stage is resumable like the main job's. No setting here was chosen by looking at a result.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/minicode-full}
NGPU=${NGPU:-2}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false DS_ACCELERATOR=${DS_ACCELERATOR:-cpu}
bash minicode/main.sh "$RUN"
. minicode/lib.sh
SFT="$RUN/sft/final/merged"
FULL_STEPS=${FULL_STEPS:-4000}  # the full recipe's SFT steps
CF_TRAIN=${CF_TRAIN:-400} CF_TEST=${CF_TEST:-60}  # CodeFusion: prompts for training pairs / held-out broken programs
REPAIR_TEMPLATE=$'Fix the bugs in this Python code:\n```python\n{broken}\n```\nFixed code:\n'

treediff() {
  for masker in ast ast-span; do
    "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml \
      model="$RUN/model" output_dir="$RUN/sft-$masker" masker="$masker" run_name="minicode-sft-$masker" "${SFT_ARGS[@]}"
    python -m repair.evaluate --model "$RUN/sft-$masker/final/merged" "${EVAL_ARGS[@]}" --strategies no-repair \
      --out "$RUN/eval-sft-$masker"
  done
}
trace() {
  local extra=""
  python -c "import sys; from repair.strategies import STRATEGIES; sys.exit('core-reimpl' not in STRATEGIES)" \
    && extra=",core-reimpl"
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" \
    --strategies "no-repair,global-low-confidence,best-of-2,trace-guided,ablations$extra" --out "$RUN/eval"
}
estimators() {
  # the RL recipe (configs/rl/minicode.yaml) with each estimator at the same 2 forward passes per estimate (d1: two
  # one-pass estimates averaged), the main job's RL steps, two seeds (rollout, mask and data order) each
  for spec in coupled:2 independent:2 d1:2; do
    local name=${spec%%:*} passes=${spec##*:}
    for seed in 0 1; do
      "${DEEPSPEED[@]}" rl/grpo.py --config configs/rl/minicode.yaml model="$SFT" seed="$seed" \
        output_dir="$RUN/rl-$name-s$seed" estimator.name="$name" estimator.passes="$passes" \
        run_name="minicode-grpo-$name-s$seed" "${RL_ARGS[@]}"
      python -m repair.evaluate --model "$RUN/rl-$name-s$seed/final/merged" "${EVAL_ARGS[@]}" --strategies no-repair \
        --out "$RUN/eval-rl-$name-s$seed"
    done
  done
}
codefusion() {
  python -m data.minicode --split train --num "$CF_TRAIN" --seed 7 --asserts --out "$RUN/cf_train_prompts.jsonl"
  python -m repair.synthesize --model "$SFT" --prompts "$RUN/cf_train_prompts.jsonl" --out "$RUN/cf_pairs_diffusion.jsonl" \
    --num-samples "$CF_TRAIN" --gen-length "$GEN" --steps "$GEN" --block-length "$GEN" --temperature 1.0 --require-fixed-parses
  python -m repair.corrupt --input "$RUN/cf_train_prompts.jsonl" --out "$RUN/cf_pairs_rule.jsonl" --num-samples "$CF_TRAIN"
  python -m repair.pair_stats "$RUN/cf_pairs_diffusion.jsonl" "$RUN/cf_pairs_rule.jsonl" \
    --figure "$RUN/cf_pair_stats.png" --json "$RUN/cf_pair_stats.json"
  # held-out broken programs: both kinds, from eval problems (never trained on), each row with its problem's tests and
  # fixed program; repair.resume_repair scores only the rows whose broken program does not parse (repair/lastmile.py)
  python -m data.minicode --split eval --num "$CF_TEST" --seed 11 --asserts --out "$RUN/cf_eval_prompts.jsonl"
  python -m repair.synthesize --model "$SFT" --prompts "$RUN/cf_eval_prompts.jsonl" --out "$RUN/cf_test_diffusion.jsonl" \
    --num-samples "$CF_TEST" --gen-length "$GEN" --steps "$GEN" --block-length "$GEN" --temperature 1.0 \
    --require-fixed-parses --check-tests
  python -m repair.corrupt --input "$RUN/cf_eval_prompts.jsonl" --out "$RUN/cf_test_rule.jsonl" --num-samples "$CF_TEST" --seed 1
  for kind in diffusion rule; do
    if [ ! -s "$RUN/cf_pairs_$kind.jsonl" ]; then echo "no $kind pairs: its repair SFT is not run"; continue; fi
    "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml \
      model="$SFT" output_dir="$RUN/repair-sft-$kind" data.name="$RUN/cf_pairs_$kind.jsonl" \
      data.prompt_template="$REPAIR_TEMPLATE" data.completion_column=fixed data.max_examples=null \
      max_steps=200 optim.lr=3e-4 optim.warmup_ratio=0.05 run_name="minicode-repair-$kind" "${SFT_ARGS[@]}"
  done
  for model in sft repair-sft-diffusion repair-sft-rule; do
    local dir=$SFT template=()
    [ "$model" = sft ] || { dir="$RUN/$model/final/merged"; template=(--prompt-template "$REPAIR_TEMPLATE"); }
    [ -d "$dir" ] || continue  # a repair SFT that was not run (no pairs): its rows say "not run"
    for test in diffusion rule; do
      python -m repair.resume_repair --model "$dir" --input "$RUN/cf_test_$test.jsonl" \
        --out "$RUN/cf_resume_${model}_on_$test.jsonl" --mode error-region --samples 5 --steps 16 "${template[@]}"
    done
  done
}

full_recipe() {
  "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml \
    model="$RUN/model" output_dir="$RUN/sft-full" max_steps="$FULL_STEPS" \
    optim.min_lr_ratio=0.0 run_name=minicode-sft-full "${SFT_ARGS[@]}"
  python -m repair.evaluate --model "$RUN/sft-full/final/merged" "${EVAL_ARGS[@]}" --strategies no-repair,trace-guided \
    --out "$RUN/eval-sft-full"
}

stage treediff "TreeDiff: ast and ast-span SFT at equal steps, no-repair pass@1" treediff
stage trace "Trace-guided: all strategies and ablations on the uniform SFT model" trace
stage estimators "DiffuCoder: coupled vs independent vs d1 GRPO" estimators
stage codefusion "CodeFusion: repair SFT on diffusion vs rule-based pairs, noise-and-resume repair" codefusion
stage full "Full recipe: SFT for $FULL_STEPS steps, no-repair and trace-guided pass@1" full_recipe
python -m minicode.report full "$RUN"
