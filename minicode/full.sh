#!/usr/bin/env bash
# The papers in miniature on minicode, with the power to tell: `bash scripts/minicode.sh --full [RUN_DIR]` (default
# runs/minicode-full). Runs the main job's first three stages (the small model, SFT, the SFT model's evaluation:
# minicode/lib.sh) into RUN_DIR on EVAL_NUM = 400 eval problems, then:
#   TreeDiff   a base pretrained once (the main recipe, uniform masking) on half of minicode's families
#              (python -m minicode.families base), continued for TD_STEPS steps with uniform / ast / ast-span on the
#              other half, which the base never saw, 3 training seeds each (seed= : masks and data order); no-repair
#              pass@1 of every arm on 400 fresh eval problems of those families; masked CE per AST tier of the arms on
#              the same held-out programs, paired per seed (python -m train.tier_ce), with each masker's realized
#              masking rate per tier
#   Trace      repair.evaluate on the main job's SFT model, 400 problems: no-repair, global-low-confidence, best-of-2,
#              trace-guided at seeds 0,1,2 (pooled McNemar); core-reimpl and the ablations at seed 0
#   DiffuCoder coupled vs independent vs d1 GRPO (the RL recipe, configs/rl/minicode.yaml), 2 forward passes per
#              estimate each (d1: two one-pass estimates averaged), seeds 0, 1, 2: probe and reward curves, held-out
#              no-repair pass@1 paired against the SFT model (the lr = 0 control: LoRA at lr 0 is the SFT model);
#              AR-ness@k of the decoding order (python -m inference.arness) of the SFT and the RL model at
#              temperatures 0, 0.5, 1.0
#   CodeFusion repair SFT of the SFT model on diffusion-synthesized vs rule-based pairs, 3 seeds each, then
#              noise-and-resume repair of held-out broken programs (eval problems; ~100 invalid ones per test set)
#              scored on the syntactically invalid ones only, by execution match and sketch match, as the paper
#              (repair/lastmile.py)
#   Fast-dLLM  pass@1 against completion tokens/s on the SFT model, blocks of 32 (Fast-dLLM's): plain, and thresholds
#              0.5-0.99 with the prefix cache and with the dual cache
# and writes RUN_DIR/report.md (python -m minicode.report full RUN_DIR): per section its settings, seeds, mean with a
# 95% interval, paired tests and the papers' figures. Every stage, and every training arm, is its own resumable stage
# (minicode/lib.sh); the entry points resume within one. No setting here was chosen by looking at a result.
#
# Budget (2 cores; unit costs measured 2026-12-07, docs/full-report.md): the SFT model ~22 min, TreeDiff base 17, arms
# 28, their evaluation 34, tier CE 3, trace 35, estimators 125 (3 x 3 stages of 815-893 s, measured), AR-ness 4,
# Fast-dLLM 11, CodeFusion 155: ~7.2 h estimated, 8.2 h measured (docs/full-report.md), over the issue's 4 hours at
# its power; the model's forward already runs at 66% of this machine's matmul peak (scripts/bench/peak.py). Cuts, each
# with its cost: RL_SEEDS="0 1" (-46 min, 2 RL seeds), CF_SEEDS=0 (-77 min, 1 repair seed), CF_TEST=160 (-61 min, 17
# diffusion-broken programs), TRACE_SEEDS=0 (-17 min, one repair seed), EVAL_STEPS=48 (-45 min: two tokens per step,
# the SFT model's pass@1 44.5% -> 40.75%). Nothing is cut by default: a row that cannot tell an effect from noise is
# what the redesign removes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/minicode-full}
NGPU=${NGPU:-2}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=false DS_ACCELERATOR=${DS_ACCELERATOR:-cpu}
export EVAL_NUM=${EVAL_NUM:-400}  # the main job's eval problems (lib.sh: 200); every SFT-model row uses them
. minicode/lib.sh
mkdir -p "$RUN"
TD_BASE_STEPS=${TD_BASE_STEPS:-2000}  # the main recipe's steps: copying switches on between ~1,000 and 2,000
TD_STEPS=${TD_STEPS:-300}  # continued training per arm (19,200 rows: ~740 per new family)
read -r -a TD_SEEDS <<< "${TD_SEEDS:-0 1 2}"
read -r -a RL_SEEDS <<< "${RL_SEEDS:-0 1 2}"
TRACE_SEEDS=${TRACE_SEEDS:-0,1,2}
ARNESS_NUM=${ARNESS_NUM:-100}
read -r -a THRESHOLDS <<< "${THRESHOLDS:-0.5 0.7 0.8 0.9 0.95 0.99}"
# Fast-dLLM's block size: with one block (L = 96, the evaluations' setting) nothing follows the block, and the dual
# cache would be the prefix cache
FAST_BLOCK=${FAST_BLOCK:-32}
# CodeFusion: prompts for training pairs; eval prompts the SFT model breaks (~11% of them into a program that does not
# parse: 940 -> ~100 invalid programs); the first CF_TEST_RULE of them, rule-broken (~60% invalid: 160 -> 98)
CF_TRAIN=${CF_TRAIN:-400} CF_TEST=${CF_TEST:-940}
CF_TEST_RULE=${CF_TEST_RULE:-$(( CF_TEST < 160 ? CF_TEST : 160 ))}
read -r -a CF_SEEDS <<< "${CF_SEEDS:-0 1 2}"  # repair SFT seeds (masks and data order) per pair source
FULL_STEPS=${FULL_STEPS:-0}  # > 0: also the full recipe (the main SFT config for FULL_STEPS steps, ~35 min at 4,000)
# the knobs of this run, for the report's header (rewritten by every invocation: a resumed run shows its last)
python -c 'import json, sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2])), indent=1))' \
  EVAL_NUM "$EVAL_NUM" EVAL_STEPS "$EVAL_STEPS" TD_BASE_STEPS "$TD_BASE_STEPS" TD_STEPS "$TD_STEPS" TD_SEEDS "${TD_SEEDS[*]}" \
  RL_SEEDS "${RL_SEEDS[*]}" TRACE_SEEDS "$TRACE_SEEDS" ARNESS_NUM "$ARNESS_NUM" THRESHOLDS "${THRESHOLDS[*]}" \
  FAST_BLOCK "$FAST_BLOCK" CF_TRAIN "$CF_TRAIN" CF_TEST "$CF_TEST" CF_TEST_RULE "$CF_TEST_RULE" CF_SEEDS "${CF_SEEDS[*]}" SFT_ARGS "${SFT_ARGS[*]}" RL_ARGS "${RL_ARGS[*]}" \
  > "$RUN/full_settings.json"
REPAIR_TEMPLATE=$'Fix the bugs in this Python code:\n```python\n{broken}\n```\nFixed code:\n'

treediff_base() {
  python -m data.minicode --split eval --num "$EVAL_NUM" --seed 1 --families "$(python -m minicode.families new)" \
    --out "$RUN/eval-new.jsonl"
  "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml model="$RUN/model" output_dir="$RUN/td-base" \
    data.families="$(python -m minicode.families base --yaml)" max_steps="$TD_BASE_STEPS" run_name=minicode-td-base \
    "${SFT_ARGS[@]}"
}
treediff_arm() {  # MASKER SEED: the base continued on the new families, then no-repair pass@1 on their eval problems
  local masker=$1 seed=$2
  "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml model="$RUN/td-base/final/merged" \
    output_dir="$RUN/td-$masker-s$seed" masker="$masker" seed="$seed" max_steps="$TD_STEPS" data.max_examples=20000 \
    data.families="$(python -m minicode.families new --yaml)" run_name="minicode-td-$masker-s$seed" "${SFT_ARGS[@]}"
  python -m repair.evaluate --model "$RUN/td-$masker-s$seed/final/merged" "${EVAL_ARGS[@]}" \
    --problems "$RUN/eval-new.jsonl" --strategies no-repair --out "$RUN/eval-td-$masker-s$seed"
}
tier_ce() {  # per seed: the three arms on the same held-out programs and masks, paired to the uniform arm
  for seed in "${TD_SEEDS[@]}"; do
    local draws=0
    [ "$seed" = "${TD_SEEDS[0]}" ] && draws=8  # the realized rates do not depend on the models: once
    local models=("$RUN/td-uniform-s$seed/final/merged" "$RUN/td-ast-s$seed/final/merged"
                  "$RUN/td-ast-span-s$seed/final/merged")
    python -m train.tier_ce --model "$(IFS=,; echo "${models[*]}")" \
      --data "$RUN/eval-new.jsonl" --completion-column canonical_solution --num "$EVAL_NUM" --max-length 160 \
      --seed 0 --schedule-steps "$TD_STEPS" --schedule-draws "$draws" --out "$RUN/tier_ce-s$seed.json"
  done
}
trace() {
  local extra=""
  python -c "import sys; from repair.strategies import STRATEGIES; sys.exit('core-reimpl' not in STRATEGIES)" \
    && extra=",core-reimpl"
  # into the main job's evaluation (same settings): its seed-0 no-repair and trace-guided rows are reused
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" --seeds "$TRACE_SEEDS" \
    --strategies no-repair,global-low-confidence,best-of-2,trace-guided --out "$RUN/eval"
  # core-reimpl decodes greedily like no-repair (3 seeds gave one figure, docs/results.md); the ablations: Table 2
  python -m repair.evaluate --model "$SFT" "${EVAL_ARGS[@]}" --seeds 0 \
    --strategies "no-repair,trace-guided,ablations$extra" --out "$RUN/eval"
}
rl_arm() {  # NAME PASSES SEED: the RL recipe with one estimator, then no-repair pass@1 on the main eval problems
  local name=$1 passes=$2 seed=$3
  "${DEEPSPEED[@]}" rl/grpo.py --config configs/rl/minicode.yaml model="$SFT" seed="$seed" \
    output_dir="$RUN/rl-$name-s$seed" estimator.name="$name" estimator.passes="$passes" \
    run_name="minicode-grpo-$name-s$seed" "${RL_ARGS[@]}"
  python -m repair.evaluate --model "$RUN/rl-$name-s$seed/final/merged" "${EVAL_ARGS[@]}" --strategies no-repair \
    --out "$RUN/eval-rl-$name-s$seed"
}
arness() {  # DiffuCoder 4.1: the SFT model and the coupled-GRPO model of the estimator comparison's first seed
  for tag in sft rl; do
    local dir=$SFT
    [ "$tag" = rl ] && dir="$RUN/rl-coupled-s${RL_SEEDS[0]}/final/merged"
    python -m inference.arness --model "$dir" --problems "$RUN/eval.jsonl" --temperatures 0,0.5,1.0 \
      --gen-length "$GEN" --num "$ARNESS_NUM" --batch-size 8 --seed 0 --out "$RUN/arness-$tag.json"
  done
}
fast_curve() {  # every point, plain included, at FAST_BLOCK and in this one stage, so tokens/s are measured alike
  local args=("${EVAL_ARGS[@]}" --block-length "$FAST_BLOCK" --strategies no-repair)
  python -m repair.evaluate --model "$SFT" "${args[@]}" --out "$RUN/fast-plain"
  for cache in prefix dual; do
    for th in "${THRESHOLDS[@]}"; do
      python -m repair.evaluate --model "$SFT" "${args[@]}" --threshold "$th" "--$cache-cache" \
        --out "$RUN/fast-$cache-$th"
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
  head -n "$CF_TEST_RULE" "$RUN/cf_eval_prompts.jsonl" > "$RUN/cf_eval_prompts_rule.jsonl"
  python -m repair.corrupt --input "$RUN/cf_eval_prompts_rule.jsonl" --out "$RUN/cf_test_rule.jsonl" \
    --num-samples "$CF_TEST_RULE" --seed 1
  local models=(sft)
  for kind in diffusion rule; do
    if [ ! -s "$RUN/cf_pairs_$kind.jsonl" ]; then echo "no $kind pairs: its repair SFT is not run"; continue; fi
    for seed in "${CF_SEEDS[@]}"; do
      models+=("repair-sft-$kind-s$seed")
      # exported by an earlier, interrupted run of this stage (its pairs are resumed, not redrawn): kept
      if [ -d "$RUN/repair-sft-$kind-s$seed/final/merged" ]; then continue; fi
      "${DEEPSPEED[@]}" train/sft.py --config configs/sft/minicode.yaml \
        model="$SFT" output_dir="$RUN/repair-sft-$kind-s$seed" data.name="$RUN/cf_pairs_$kind.jsonl" \
        data.prompt_template="$REPAIR_TEMPLATE" data.completion_column=fixed data.max_examples=null seed="$seed" \
        max_steps=200 optim.lr=3e-4 optim.warmup_ratio=0.05 run_name="minicode-repair-$kind-s$seed" "${SFT_ARGS[@]}"
    done
  done
  for model in "${models[@]}"; do  # the same noise draws (--seed 0) for every model: paired on each program
    local dir=$SFT template=()
    [ "$model" = sft ] || { dir="$RUN/$model/final/merged"; template=(--prompt-template "$REPAIR_TEMPLATE"); }
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

# the main job's first three stages (minicode/lib.sh) on EVAL_NUM problems; its RL, synthesis and fast-sampler stages
# are not run: the DiffuCoder, CodeFusion and Fast-dLLM sections train and measure their own
stage model "small model, $EVAL_NUM fresh eval problems (seed $EVAL_SEED), RL prompts" build
stage sft "SFT from scratch on minicode train ($NGPU ranks, full fine-tune): the SFT model of every section" sft
stage eval "SFT model: no-repair and trace-guided, seed 0 (section 2 adds seeds and strategies)" evaluate
stage td-base "TreeDiff: base on half the families ($TD_BASE_STEPS steps, uniform), eval problems of the others" \
  treediff_base
for masker in uniform ast ast-span; do
  for seed in "${TD_SEEDS[@]}"; do
    stage "td-$masker-s$seed" "TreeDiff: $masker from the base, seed $seed ($TD_STEPS steps), no-repair pass@1" \
      treediff_arm "$masker" "$seed"
  done
done
stage tier-ce "TreeDiff: masked CE per AST tier of the arms, realized masking rates" tier_ce
stage trace "Trace-guided: Tables 1-3 on the SFT model (seeds $TRACE_SEEDS; ablations at seed 0)" trace
for spec in coupled:2 independent:2 d1:2; do
  for seed in "${RL_SEEDS[@]}"; do
    stage "rl-${spec%%:*}-s$seed" "DiffuCoder: ${spec%%:*} GRPO, seed $seed, and its pass@1" \
      rl_arm "${spec%%:*}" "${spec##*:}" "$seed"
  done
done
stage arness "DiffuCoder: AR-ness@k of the SFT and the RL model at temperatures 0, 0.5, 1" arness
stage fast-curve "Fast-dLLM: pass@1 against tokens/s, thresholds ${THRESHOLDS[*]}, prefix and dual cache" fast_curve
stage codefusion "CodeFusion: repair SFT on diffusion vs rule-based pairs, noise-and-resume repair" codefusion
if [ "$FULL_STEPS" -gt 0 ]; then
  stage full "Full recipe: SFT for $FULL_STEPS steps, no-repair and trace-guided pass@1" full_recipe
fi
python -m minicode.report full "$RUN"
