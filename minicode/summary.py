"""The main job's summary: RUN/summary.json (models, evaluate arguments, per-stage figures) and its printed headline."""

from __future__ import annotations

import json
from pathlib import Path

from minicode.figures import eval_figures, paired_gain, read_json, rl_figures, sft_figures, stage_seconds


def summary(run: Path, sft_model: str, rl_model: str, evaluate_args: list[str]) -> dict:
    stages = stage_seconds(run)
    pairs = read_json(Path(str(run / "pairs.jsonl") + ".stats.json"))
    result = {
        "sft_model": sft_model, "rl_model": rl_model, "evaluate_args": evaluate_args,
        "stage_seconds": stages, "total_seconds": sum(stages.values()),
        "sft": sft_figures(run / "sft"),
        "eval": eval_figures(run / "eval"),
        "rl": rl_figures(run / "rl"), "eval_after_rl": eval_figures(run / "eval-rl"),
        "rl_gain": paired_gain(run / "eval", run / "eval-rl") if (run / "eval-rl").exists() else None,
        "synthesis": None if pairs is None else {k: pairs.get(k) for k in
                                                 ("pairs", "this_run", "diversity_fixed_ngram_jaccard",
                                                  "diversity_broken_ngram_jaccard", "complexity_edit_distance",
                                                  "broken_parses")},
        "fast_modes": {name: (eval_figures(run / d) or {}).get("no-repair") for name, d in
                       (("plain", "eval"), ("threshold", "eval-threshold"),
                        ("threshold+cache", "eval-threshold-cache"))},
    }
    (run / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def print_headline(s: dict) -> None:
    ev, rl = s.get("eval") or {}, s.get("rl") or {}
    print(f"minicode main job: {s['total_seconds'] / 60:.1f} min "
          f"({', '.join(f'{k} {v} s' for k, v in s['stage_seconds'].items())})")
    if s.get("sft"):
        print(f"  SFT: {s['sft']['steps']} steps, loss {s['sft']['loss_first']:.2f} -> {s['sft']['loss_last']:.3f}, "
              f"{s['sft']['tokens_per_s_median']} tokens/s")
    for name, e in ev.items():
        print(f"  {name:>22}: pass@1 {e['pass@1']:5.1f}% of {e['problems']} held-out problems, "
              f"NFE {e['nfe_per_problem']}")
    if rl:
        print(f"  coupled-GRPO: {rl['steps']} steps, probe reward {rl.get('probe_first')} -> {rl.get('probe_last')} "
              f"(the probe: held-out rl prompts, greedy)")
    gain = s.get("rl_gain")
    if gain:
        print(f"  held-out no-repair pass@1, plain sampler, the same {gain['problems']} problems: SFT model "
              f"{gain['before']}% -> RL model {gain['after']}% ({gain['change_points']:+.1f} points; McNemar b = "
              f"{gain['b']}, c = {gain['c']}, p = {gain['p_exact']:.3g})")
    if s.get("synthesis"):
        print(f"  synthesis: {s['synthesis']['pairs']} repair pairs kept")
    for name, e in s["fast_modes"].items():
        if e:
            print(f"  {name:>22}: pass@1 {e['pass@1']:5.1f}%, NFE {e['nfe_per_problem']}, {e['tokens_per_s']} tok/s")
