"""Evaluate repair strategies on HumanEval+ / MBPP+ (paper Tables 1-3, Figures 2-3) for a base / adapter / merged model.

Paper setting (LLaDA-8B-Base on a GPU; the defaults are the paper's: N=128, L=512, S=64, K=64, w=1, M=20, R=3,
tau=0.2, seeds 0,1,2, 20% feedback tests with split seed 42). Stage 1 takes exactly N steps (no-repair NFE = N, as the
paper's NFE column); `--threshold 0.9` is an opt-in fast mode (Fast-dLLM commits, adaptive NFE) labelled in the report:

    python -m repair.evaluate --model GSAI-ML/LLaDA-8B-Base --dataset mbpp \
        --strategies main,ablations --out runs/repair-mbpp

Expected (paper, pass@1 % on held-out tests): MBPP+ no-repair 19.84, global low-confidence 19.84, best-of-2 9.52,
trace-guided 31.22 (NFE 294), CORE 26.98 (NFE 136); HumanEval+ 1.83 / 2.44 / 0.00 / 2.64, CORE 3.05. CORE's code is
not public: `core-reimpl` is our re-implementation from the paper's description (repair/core.py says exactly what).

Pipeline smoke test on CPU with the tiny offline model (numbers meaningless):

    python -m repair.evaluate --model TINY_DIR --dataset mbpp --limit 6 --gen-length 64 --steps 16 \
        --repair-steps 8 --budget-k 16 --seeds 0 --out /tmp/repair-tiny

Instruct and reasoning models (repair.formats, docs/evaluation.md): `--prompt-format chat` (evalplus's instruction
prompt in the tokenizer's chat template; <think> removed, fenced code extracted), `--prompt-format sft` (this framework's SFT prompt,
e.g. the TreeDiff configs; <think> removed, fenced code extracted); `--extract` overrides the extraction steps
(think, fenced, sanitize). Repair remasks only the extracted program's tokens.

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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from data.usage import UsageError, check_options, note, number_list, run_cli
from repair import ranks
from repair.formats import PROMPT_FORMATS, EvalFormat, resolve_extract
from repair.loop import Engine, LoopConfig, error_type, heldout_result, make_task
from repair.report import print_summary, write_report
from repair.run_files import load_runs, merge_parts, open_run, part_path
from repair.strategies import parse_strategies, run_strategy

# Settings that change results: a rerun into the same --out must agree on them (strategies, seeds, limit may grow).
RESULT_KEYS = ("model", "dataset", "problems", "gen_length", "block_length", "steps", "temperature", "threshold",
               "prefix_cache", "dual_cache",
               "repair_steps", "budget_k", "window", "max_trace_lines", "trace_reading", "rounds", "repair_temperature",
               "sample_temperature", "global_scope", "feedback_fraction", "split_seed", "timeout_per_test", "timeout_per_problem",
               "prompt_format", "extract")
# What a run recorded before a setting existed ran with (its config.json lacks the key).
LEGACY_SETTINGS = {"prompt_format": "raw", "extract": "none", "dual_cache": False}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m repair.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="base, base+adapter (peft dir) or merged model dir / Hub name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=["humaneval", "mbpp"])
    source.add_argument("--problems", help="jsonl of problems in evalplus's schema (or assert-style)")
    p.add_argument("--out", required=True)
    p.add_argument("--strategies", default="no-repair,global-low-confidence,core-reimpl,best-of-2,trace-guided",
                   help="comma list of repair.strategies names; 'main' and 'ablations' expand to groups")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument("--gen-length", type=int, default=512)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--steps", type=int, default=128, help="N, stage-1 steps")
    p.add_argument("--temperature", type=float, default=0.0, help="stage-1 temperature")
    p.add_argument("--threshold", type=float, default=None,
                   help="FAST MODE (off by default): Fast-dLLM confidence-threshold commits in stage 1, >= 1 token per "
                        "step, adaptive NFE below --steps (not the paper's NFE accounting; labelled in the report)")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--prefix-cache", action="store_true",
                       help="FAST MODE (off by default): Fast-dLLM prefix KV cache in stage 1 (approximate outputs)")
    cache.add_argument("--dual-cache", action="store_true",
                       help="FAST MODE (off by default): Fast-dLLM's DualCache in stage 1: prefix and suffix KV cached "
                            "at each block's start, the block's other steps run the block only (approximate outputs)")
    p.add_argument("--repair-steps", type=int, default=64, help="S")
    p.add_argument("--budget-k", type=int, default=64, help="K, most tokens remasked per round")
    p.add_argument("--window", type=int, default=1, help="w, +-lines around an exception frame")
    p.add_argument("--max-trace-lines", type=int, default=20, help="M")
    p.add_argument("--trace-reading", choices=["events", "distinct"], default="events",
                   help="wrong outputs localize to the last M executed line EVENTS before the failure, deduplicated "
                        "after the cut (default, the paper's wording), or to the last M DISTINCT lines (for a short "
                        "function, its whole executed body)")
    p.add_argument("--rounds", type=int, default=3, help="R_max")
    p.add_argument("--repair-temperature", type=float, default=0.2, help="tau")
    p.add_argument("--sample-temperature", type=float, default=0.2, help="temperature of best-of-2's samples")
    p.add_argument("--global-scope", choices=["completion", "all"], default="completion",
                   help="candidates of global low-confidence / fallback selection: the completion up to its EOS "
                        "(default) or every generated position incl. post-EOS padding (the paper's literal wording)")
    p.add_argument("--prompt-format", choices=list(PROMPT_FORMATS), default="raw",
                   help="raw: the problem prompt continued (base models, the paper); chat: evalplus's instruction "
                        "prompt in the tokenizer's chat template (Instruct models); sft: the prompt this framework's "
                        "SFT trains with chat_template: true (TreeDiff configs, reasoning layout)")
    p.add_argument("--extract", default="auto",
                   help="how the program is cut out of the answer: auto (raw: none; chat, sft: think,fenced), "
                        "none, or a comma list of think (drop <think>...</think>), fenced (the ``` block defining the "
                        "entry point), sanitize (evalplus.sanitize: imports + entry point + its dependencies)")
    p.add_argument("--feedback-fraction", type=float, default=0.2)
    p.add_argument("--split-seed", type=int, default=42)
    p.add_argument("--timeout-per-test", type=float, default=5.0)
    p.add_argument("--timeout-per-problem", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="sandboxes: expected outputs, and a batch's tests run concurrently")
    p.add_argument("--batch-size", type=int, default=1, help="B problems per batched generate / infill")
    p.add_argument("--overlap", type=int, default=2,
                   help="batches in flight: one batch's tests run while another uses the model (1 = sequential)")
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)  # deepspeed
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on CPU)")
    args = p.parse_args(argv)
    args.extract = ",".join(resolve_extract(args.prompt_format, args.extract)) or "none"
    return args


def eval_format(args: argparse.Namespace) -> EvalFormat:
    return EvalFormat(args.prompt_format, tuple(s for s in args.extract.split(",") if s != "none"))


def check_format(args: argparse.Namespace) -> None:
    """A chat / sft format needs a chat template: checked on the tokenizer, before the model loads."""
    if args.prompt_format == "raw" and "instruct" in str(args.model).lower():
        note(f"--prompt-format raw on {args.model}: Instruct models are scored with --prompt-format chat")
    if not PROMPT_FORMATS[args.prompt_format].chat_template:
        return
    from inference.loading import load_tokenizer

    try:
        tokenizer = load_tokenizer(args.model)
    except (OSError, ValueError):  # an adapter without its own tokenizer: the model load checks its base's
        return
    eval_format(args).check(tokenizer)


def check_inputs(args: argparse.Namespace) -> None:
    """Bad options, model paths and problem files stop here, before OUT is written or any work starts."""
    from data.problems import load_problems
    from inference.loading import check_model_source
    from inference.sampler import fit_block_schedule

    check_options(args, positive=("limit", "repair_steps", "budget_k", "workers", "max_trace_lines"),
                  non_negative=("rounds", "window"))
    if not 0 < args.feedback_fraction < 1:
        raise UsageError(f"--feedback-fraction must be in (0, 1) (the rest are the held-out tests), got {args.feedback_fraction}")
    fit_block_schedule(args.gen_length, args.block_length, args.steps, ("--gen-length", "--block-length", "--steps"))
    check_model_source(args.model)
    cache = "--prefix-cache" if args.prefix_cache else "--dual-cache" if args.dual_cache else None
    if cache and "core-reimpl" in parse_strategies(args.strategies):
        raise UsageError(f"core-reimpl revises earlier blocks during generation, which {cache} would keep stale; "
                         f"drop {cache} or run core-reimpl separately")
    if args.problems:
        load_problems(path=args.problems)
    check_format(args)


def loop_config(args: argparse.Namespace) -> LoopConfig:
    return LoopConfig(steps=args.steps, gen_length=args.gen_length, block_length=args.block_length,
                      temperature=args.temperature, threshold=args.threshold, prefix_cache=args.prefix_cache,
                      dual_cache=args.dual_cache, repair_steps=args.repair_steps, budget_k=args.budget_k,
                      window=args.window,
                      max_trace_lines=args.max_trace_lines, trace_reading=args.trace_reading, rounds=args.rounds,
                      repair_temperature=args.repair_temperature, sample_temperature=args.sample_temperature,
                      global_scope=args.global_scope)


def record_config(args: argparse.Namespace, argv: list[str] | None, write: bool = True) -> dict:
    """OUT/config.json; refuses to mix results produced with different settings in one directory.

    Batch size, overlap and the number of ranks are recorded but may change between reruns: they change how fast
    rows are made, not what they are (up to float rounding, which the benchmark measures)."""
    out = Path(args.out)
    config = {k: getattr(args, k) for k in RESULT_KEYS}
    path = out / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        diff = {k: (old.get(k, LEGACY_SETTINGS.get(k)), v) for k, v in config.items()
                if old.get(k, LEGACY_SETTINGS.get(k)) != v}
        if diff:
            raise UsageError(f"{out} holds results made with other settings {diff}; use another --out")
    argv = sys.argv[1:] if argv is None else argv
    config["command"] = "python -m repair.evaluate " + shlex.join(argv)
    config.update(batch_size=args.batch_size, overlap=args.overlap, ranks=int(os.environ.get("WORLD_SIZE", "1")))
    if write:
        (out / "runs" / "parts").mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")  # other ranks may read it meanwhile: never a half-written file
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(path)
    return config


def with_expected_outputs(args: argparse.Namespace, problems: list) -> list:
    from repair.execution.expected import with_expected

    limits = dict(timeout_per_test=max(args.timeout_per_test, 60.0), timeout_per_problem=600.0)
    return with_expected(problems, workers=args.workers, progress=True, **limits)


class RowWriter:
    """This rank's part files, one per (strategy, seed): appended, flushed and fsynced row by row, from any thread."""

    def __init__(self, out: Path, rank: int):
        self.out, self.rank, self.handles, self.lock = out, rank, {}, threading.Lock()

    def append(self, name: str, seed: int, row: dict) -> None:
        with self.lock:
            if (name, seed) not in self.handles:
                self.handles[(name, seed)] = open_run(part_path(self.out, name, seed, self.rank))
            handle = self.handles[(name, seed)]
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())  # a killed run loses at most the rows in flight

    def close(self) -> None:
        for h in self.handles.values():
            h.close()


def row_of(name: str, seed: int, outcome, held, seconds: float) -> dict:
    fb0, fb1 = outcome.initial_feedback, outcome.final_feedback
    return {"task_id": held.task_id, "strategy": name, "seed": seed, "passed": held.status == "pass",
            "heldout": [held.passed, held.total], "heldout_status": held.status,
            "feedback_initial": [fb0.passed, fb0.total, fb0.status], "feedback_final": [fb1.passed, fb1.total, fb1.status],
            "error_type": error_type(fb0), "nfe": outcome.nfe, "rounds": [asdict(r) for r in outcome.rounds],
            "initial_tokens": outcome.initial.completion_ids, "final_tokens": outcome.final.completion_ids,
            "initial_program": outcome.initial.program, "program": outcome.final.program,
            "initial_completion": outcome.initial.completion, "completion": outcome.final.completion,
            "seconds": round(seconds, 3)}


@dataclass
class Shard:
    """What one rank evaluates and with what: its problems, the rows that exist, the model and the sandboxes."""

    args: argparse.Namespace
    names: list[str]
    cfg: LoopConfig
    done: dict[tuple[str, int], set[str]]
    engine: Engine
    limits: object
    pool: object
    writer: RowWriter
    # task id -> its stage-1 cache, shared by the seeds: a greedy stage 1 runs once per problem, not once per seed
    # (repair.loop.generation_key); sampled generations stay per seed
    stage1: dict = field(default_factory=dict)

    def batch(self, seed: int, problems: list) -> None:
        """Every missing (strategy, problem) row of one batch of problems: stage 1 once per seed, a greedy one once
        per problem (cached in the tasks), each strategy batched, held-out tests concurrently, rows appended as
        they are decided."""
        from data.problems import split_tests

        splits = {p.task_id: split_tests(p, self.args.feedback_fraction, seed=self.args.split_seed) for p in problems}
        fmt = eval_format(self.args)
        tasks = {p.task_id: make_task(self.engine, p, splits[p.task_id].feedback, seed, limits=self.limits,
                                      pool=self.pool, fmt=fmt, cache=self.stage1.setdefault(p.task_id, {}))
                 for p in problems}
        for name in self.names:
            todo = [p for p in problems if p.task_id not in self.done[(name, seed)]]
            if not todo:
                continue
            t0 = time.perf_counter()
            outcomes = run_strategy(name, self.engine, [tasks[p.task_id] for p in todo], self.cfg)

            def held(pair):
                p, outcome = pair
                return heldout_result(p, splits[p.task_id].heldout, outcome.final.program, limits=self.limits,
                                      pool=self.pool)

            pairs = list(zip(todo, outcomes))
            results = list(self.engine.tests.map(held, pairs) if self.engine.tests else map(held, pairs))
            seconds = (time.perf_counter() - t0) / len(todo)  # the batch's wall time, shared by its rows
            for outcome, h in zip(outcomes, results):
                self.writer.append(name, seed, row_of(name, seed, outcome, h, seconds))

    def run(self, seeds: list[int], problems: list) -> None:
        """Batches of --batch-size problems; --overlap of them in flight, so one batch's tests run while another
        batch uses the model (model calls are serialized by the engine's lock; results do not depend on timing)."""
        B = max(1, self.args.batch_size)
        jobs = [(seed, problems[i:i + B]) for seed in seeds for i in range(0, len(problems), B)]
        bar = tqdm(total=len(jobs), desc="batches")

        def job(item):
            self.batch(*item)
            bar.update()

        if self.args.overlap <= 1:
            for item in jobs:
                job(item)
        else:
            with ThreadPoolExecutor(self.args.overlap, thread_name_prefix="batch") as ex:
                list(ex.map(job, jobs))
        bar.close()


def existing_rows(out: Path, names: list[str], seeds: list[int]) -> dict[tuple[str, int], set[str]]:
    runs = load_runs(out)
    return {(n, s): {r["task_id"] for r in runs.get((n, s), [])} for n in names for s in seeds}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    check_inputs(args)  # before any rank starts work or OUT is written
    rank, world = ranks.init()
    try:
        return evaluate(args, argv, rank, world)
    finally:
        ranks.close()


def evaluate(args: argparse.Namespace, argv: list[str] | None, rank: int, world: int) -> dict:
    names, seeds = parse_strategies(args.strategies), number_list(args.seeds, "--seeds")
    cfg = loop_config(args)
    config = record_config(args, argv, write=rank == 0)
    out = Path(args.out)

    # ---- setup: what is missing, this rank's share of it (+ expected outputs), model, sandboxes ----
    from data.problems import load_problems
    from inference.loading import load_model
    from repair.execution import Limits, SandboxPool

    problems = load_problems(dataset=args.dataset, path=args.problems)[: args.limit]
    done = existing_rows(out, names, seeds)
    ranks.barrier()  # every rank has read the existing rows before any rank appends new ones
    todo = [p for p in problems if any(p.task_id not in done[(n, s)] for n in names for s in seeds)]
    mine = ranks.shard(todo, rank, world)
    t0, loop = time.perf_counter(), 0.0
    if mine:
        mine = with_expected_outputs(args, mine)
        limits = Limits(timeout_per_test=args.timeout_per_test, timeout_per_problem=args.timeout_per_problem)
        pool, writer = SandboxPool(args.workers), RowWriter(out, rank)
        loaded = load_model(args.model, device=args.device or ranks.device(), dtype=args.dtype)
        try:
            with ThreadPoolExecutor(args.workers, thread_name_prefix="tests") as tests:
                engine = Engine.from_loaded(loaded, tests=tests if args.workers > 1 else None)
                t1 = time.perf_counter()
                Shard(args, names, cfg, done, engine, limits, pool, writer).run(seeds, mine)
                loop = time.perf_counter() - t1
        finally:
            writer.close()
            pool.close()

    # ---- save: rank 0 merges the ranks' rows, writes tables, tests, figures ----
    seconds = ranks.max_over_ranks(time.perf_counter() - t0)  # also the barrier: every rank has written its rows
    loop = ranks.max_over_ranks(loop)
    if rank != 0:
        return {}
    timing = dict(seconds=round(seconds, 3), loop_seconds=round(loop, 3), problems=len(todo), ranks=world,
                  batch_size=args.batch_size, overlap=args.overlap,
                  what="slowest rank; seconds: expected outputs + model load + loop; loop_seconds: the batches alone")
    (out / "timing.json").write_text(json.dumps(timing, indent=2))
    merge_parts(out, [p.task_id for p in problems])
    summary = write_report(out, config)
    print_summary(summary, out)
    return summary


if __name__ == "__main__":
    run_cli(main)
