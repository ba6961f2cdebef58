"""minicode results: the main job's summary.json and the full run's report.md (the papers' tables in miniature).

    python -m repair.minicode_report summary RUN_DIR --sft-model DIR --rl-model DIR --evaluate-args ARGS...
    python -m repair.minicode_report full RUN_DIR

Reads only what the entry points wrote (metrics.jsonl of SFT / RL, results.json of repair.evaluate, the pair
statistics of repair.synthesize / repair.pair_stats, the stage timings of scripts/minicode*.sh); runs no model.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


MAIN_STAGES = ("model", "sft", "eval", "rl", "synth", "fast")  # scripts/minicode.sh; --full adds its own stages


def stage_seconds(run: Path, names: tuple[str, ...] | None = MAIN_STAGES) -> dict[str, int]:
    """Wall seconds of the finished stages (RUN/stages/NAME), the main job's by default, None: all."""
    stages = run / "stages"
    found = {p.name: int(p.read_text().strip() or 0) for p in sorted(stages.iterdir())} if stages.exists() else {}
    return found if names is None else {k: v for k, v in found.items() if k in names}


def sft_figures(run_dir: Path) -> dict | None:
    rows = read_metrics(run_dir / "metrics.jsonl")
    if not rows:
        return None
    speeds = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")]
    return {"steps": rows[-1]["step"], "loss_first": rows[0]["loss"], "loss_last": rows[-1]["loss"],
            "tokens_per_s_median": round(statistics.median(speeds)) if speeds else None}


def eval_figures(out: Path) -> dict | None:
    """pass@1 %, NFE per problem and completion tokens/s (gen length x problems / wall seconds) per strategy."""
    results, config = read_json(out / "results.json"), read_json(out / "config.json") or {}
    if results is None:
        return None
    figures = {}
    for name, e in results["strategies"].items():
        problems = sum(s["problems"] for s in e["seeds"].values())
        figures[name] = {"pass@1": round(e["pass@1_mean"], 2), "problems": problems,
                         "nfe_per_problem": round(e["nfe_mean"], 1), "seconds": e["seconds_total"],
                         "tokens_per_s": round(problems * config.get("gen_length", 0) / max(e["seconds_total"], 1e-9), 1)}
    return figures


def rl_figures(run_dir: Path, window: int = 3) -> dict | None:
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "reward" in r]
    if not rows:
        return None
    first, last = rows[:window], rows[-window:]
    return {"steps": rows[-1]["step"], "reward_first": round(statistics.fmean(r["reward"] for r in first), 4),
            "reward_last": round(statistics.fmean(r["reward"] for r in last), 4),
            "seconds_per_step_median": round(statistics.median(
                sum(v for k, v in r.items() if k.startswith("time/")) for r in rows), 2)}


def summary(run: Path, sft_model: str, rl_model: str, evaluate_args: list[str]) -> dict:
    stages = stage_seconds(run)
    pairs = read_json(Path(str(run / "pairs.jsonl") + ".stats.json"))
    result = {
        "sft_model": sft_model, "rl_model": rl_model, "evaluate_args": evaluate_args,
        "stage_seconds": stages, "total_seconds": sum(stages.values()),
        "sft": sft_figures(run / "sft"),
        "eval": eval_figures(run / "eval"),
        "rl": rl_figures(run / "rl"), "eval_after_rl": eval_figures(run / "eval-rl"),
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
        after = (s.get("eval_after_rl") or {}).get("no-repair", {}).get("pass@1")
        same_sampler = (s["fast_modes"].get("threshold") or {}).get("pass@1")
        print(f"  coupled-GRPO: {rl['steps']} steps, reward {rl['reward_first']} -> {rl['reward_last']}, "
              f"no-repair pass@1 after RL {after}% (threshold 0.9 sampler; the SFT model with it: {same_sampler}%)")
    if s.get("synthesis"):
        print(f"  synthesis: {s['synthesis']['pairs']} repair pairs kept")
    for name, e in s["fast_modes"].items():
        if e:
            print(f"  {name:>22}: pass@1 {e['pass@1']:5.1f}%, NFE {e['nfe_per_problem']}, {e['tokens_per_s']} tok/s")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m repair.minicode_report", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary")
    s.add_argument("run")
    s.add_argument("--sft-model", required=True)
    s.add_argument("--rl-model", required=True)
    s.add_argument("--evaluate-args", nargs=argparse.REMAINDER, default=[])
    f = sub.add_parser("full")
    f.add_argument("run")
    args = p.parse_args(argv)
    if args.command == "summary":
        print_headline(summary(Path(args.run), args.sft_model, args.rl_model, args.evaluate_args))
    else:
        from repair.minicode_full import write_full_report

        print(f"report -> {write_full_report(Path(args.run))}")


if __name__ == "__main__":
    main()
