"""Evaluate repair strategies on HumanEval+ / MBPP+ (paper Tables 1-3, Figures 2-3) for a base / adapter / merged model.

Paper setting (LLaDA-8B-Base on a GPU; the defaults are the paper's: N=128, L=512, S=64, K=64, w=1, M=20, R=3,
tau=0.2, threshold 0.9, seeds 0,1,2, 20% feedback tests with split seed 42):

    python -m repair.evaluate --model GSAI-ML/LLaDA-8B-Base --dataset mbpp \
        --strategies no-repair,global-low-confidence,best-of-2,trace-guided,ablations --out runs/repair-mbpp

Expected (paper, pass@1 % on held-out tests): MBPP+ no-repair 19.84, global low-confidence 19.84, best-of-2 9.52,
trace-guided 31.22 (NFE 294; CORE 26.98 is not implemented here); HumanEval+ 1.83 / 2.44 / 0.00 / 2.64 (CORE 3.05).

Pipeline smoke test on CPU with the tiny offline model (numbers meaningless):

    python -m repair.evaluate --model TINY_DIR --dataset mbpp --limit 6 --gen-length 64 --steps 16 \
        --repair-steps 8 --budget-k 16 --seeds 0 --out /tmp/repair-tiny

Per problem and seed: stage-1 generation (shared by the strategies of that seed), feedback tests, localization,
remasking, infill, up to R rounds (repair/loop.py, repair/strategies.py); then the held-out tests decide pass@1.
Rows stream to OUT/runs/<strategy>.seed<seed>.jsonl (flushed per problem); a rerun skips finished problems.
At the end OUT/results.json, OUT/report.md and the figures are (re)written by repair/report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from data.usage import UsageError, check_options, number_list, run_cli
from repair.loop import Engine, LoopConfig, error_type, heldout_result, make_task
from repair.report import print_summary, read_rows, run_path, write_report
from repair.strategies import parse_strategies, run_strategy

# Settings that change results: a rerun into the same --out must agree on them (strategies, seeds, limit may grow).
RESULT_KEYS = ("model", "dataset", "problems", "gen_length", "block_length", "steps", "temperature", "threshold",
               "repair_steps", "budget_k", "window", "max_trace_lines", "rounds", "repair_temperature",
               "sample_temperature", "feedback_fraction", "split_seed", "timeout_per_test", "timeout_per_problem")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m repair.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="base, base+adapter (peft dir) or merged model dir / Hub name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=["humaneval", "mbpp"])
    source.add_argument("--problems", help="jsonl of problems in evalplus's schema (or assert-style)")
    p.add_argument("--out", required=True)
    p.add_argument("--strategies", default="no-repair,global-low-confidence,best-of-2,trace-guided",
                   help="comma list of repair.strategies names; 'main' and 'ablations' expand to groups")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument("--gen-length", type=int, default=512)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--steps", type=int, default=128, help="N, stage-1 steps")
    p.add_argument("--temperature", type=float, default=0.0, help="stage-1 temperature")
    p.add_argument("--threshold", type=float, default=0.9, help="stage-1 confidence threshold; <= 0 disables")
    p.add_argument("--repair-steps", type=int, default=64, help="S")
    p.add_argument("--budget-k", type=int, default=64, help="K, most tokens remasked per round")
    p.add_argument("--window", type=int, default=1, help="w, +-lines around an exception frame")
    p.add_argument("--max-trace-lines", type=int, default=20, help="M")
    p.add_argument("--rounds", type=int, default=3, help="R_max")
    p.add_argument("--repair-temperature", type=float, default=0.2, help="tau")
    p.add_argument("--sample-temperature", type=float, default=0.2, help="temperature of best-of-2's samples")
    p.add_argument("--feedback-fraction", type=float, default=0.2)
    p.add_argument("--split-seed", type=int, default=42)
    p.add_argument("--timeout-per-test", type=float, default=5.0)
    p.add_argument("--timeout-per-problem", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="sandboxes (expected outputs)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on CPU)")
    return p.parse_args(argv)


def check_inputs(args: argparse.Namespace) -> None:
    """Bad options, model paths and problem files stop here, before OUT is written or any work starts."""
    from data.problems import load_problems
    from inference.loading import check_model_source
    from inference.sampler import fit_block_schedule

    check_options(args, positive=("limit", "repair_steps", "budget_k", "workers"), non_negative=("rounds", "window"))
    if not 0 < args.feedback_fraction < 1:
        raise UsageError(f"--feedback-fraction must be in (0, 1) (the rest are the held-out tests), got {args.feedback_fraction}")
    fit_block_schedule(args.gen_length, args.block_length, args.steps, ("--gen-length", "--block-length", "--steps"))
    check_model_source(args.model)
    if args.problems:
        load_problems(path=args.problems)


def loop_config(args: argparse.Namespace) -> LoopConfig:
    return LoopConfig(steps=args.steps, gen_length=args.gen_length, block_length=args.block_length,
                      temperature=args.temperature, threshold=args.threshold if args.threshold > 0 else None,
                      repair_steps=args.repair_steps, budget_k=args.budget_k, window=args.window,
                      max_trace_lines=args.max_trace_lines, rounds=args.rounds,
                      repair_temperature=args.repair_temperature, sample_temperature=args.sample_temperature)


def record_config(args: argparse.Namespace, argv: list[str] | None) -> dict:
    """OUT/config.json; refuses to mix results produced with different settings in one directory."""
    out = Path(args.out)
    config = {k: getattr(args, k) for k in RESULT_KEYS}
    path = out / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        diff = {k: (old.get(k), v) for k, v in config.items() if old.get(k) != v}
        if diff:
            raise UsageError(f"{out} holds results made with other settings {diff}; use another --out")
    argv = sys.argv[1:] if argv is None else argv
    config["command"] = "python -m repair.evaluate " + shlex.join(argv)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    return config


def load_problems_for(args: argparse.Namespace) -> list:
    from data.problems import load_problems
    from repair.execution.expected import with_expected

    problems = load_problems(dataset=args.dataset, path=args.problems)[: args.limit]
    limits = dict(timeout_per_test=max(args.timeout_per_test, 60.0), timeout_per_problem=600.0)
    return with_expected(problems, workers=args.workers, progress=True, **limits)


def open_run(path: Path):
    """Append handle of a run file whose torn last line (a crash mid-write) is cut off first."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
    return path.open("a")


def append_row(handle, row: dict) -> None:
    handle.write(json.dumps(row) + "\n")
    handle.flush()
    os.fsync(handle.fileno())  # a killed run loses at most the problem in flight


def row_of(name: str, seed: int, outcome, held, seconds: float) -> dict:
    fb0, fb1 = outcome.initial_feedback, outcome.final_feedback
    return {"task_id": held.task_id, "strategy": name, "seed": seed, "passed": held.status == "pass",
            "heldout": [held.passed, held.total], "heldout_status": held.status,
            "feedback_initial": [fb0.passed, fb0.total, fb0.status], "feedback_final": [fb1.passed, fb1.total, fb1.status],
            "error_type": error_type(fb0), "nfe": outcome.nfe, "rounds": [asdict(r) for r in outcome.rounds],
            "initial_tokens": outcome.initial.completion_ids, "final_tokens": outcome.final.completion_ids,
            "initial_program": outcome.initial.program, "program": outcome.final.program, "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    names, seeds = parse_strategies(args.strategies), number_list(args.seeds, "--seeds")
    check_inputs(args)
    cfg = loop_config(args)
    config = record_config(args, argv)
    out = Path(args.out)

    # ---- setup: problems (+ expected outputs), model, sandboxes ----
    from data.problems import split_tests
    from inference.loading import load_model
    from repair.execution import Limits, SandboxPool

    problems = load_problems_for(args)
    engine = Engine.from_loaded(load_model(args.model, device=args.device, dtype=args.dtype))
    limits = Limits(timeout_per_test=args.timeout_per_test, timeout_per_problem=args.timeout_per_problem)
    pool = SandboxPool(1)  # tests run between forward passes; one sandbox keeps the model's cores free

    # ---- loop: seeds x problems x strategies, skipping finished rows ----
    try:
        for seed in seeds:
            done = {n: {r["task_id"] for r in read_rows(run_path(out, n, seed))} for n in names}
            handles = {n: open_run(run_path(out, n, seed)) for n in names}
            for problem in tqdm(problems, desc=f"seed {seed}"):
                todo = [n for n in names if problem.task_id not in done[n]]
                if not todo:
                    continue
                split = split_tests(problem, args.feedback_fraction, seed=args.split_seed)
                task = make_task(engine, problem, split.feedback, seed, limits=limits, pool=pool)
                for name in todo:
                    t0 = time.perf_counter()
                    outcome = run_strategy(name, engine, task, cfg)
                    held = heldout_result(problem, split.heldout, outcome.final.program, limits=limits, pool=pool)
                    append_row(handles[name], row_of(name, seed, outcome, held, time.perf_counter() - t0))
            for h in handles.values():
                h.close()
    finally:
        pool.close()

    # ---- save: tables, tests, figures ----
    summary = write_report(out, config)
    print_summary(summary, out)
    return summary


if __name__ == "__main__":
    run_cli(main)
