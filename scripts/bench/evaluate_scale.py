"""Benchmark: repair.evaluate at scale on this machine, and a projection of the paper-scale run on 8 A100s.

python scripts/bench/evaluate_scale.py [--model DIR] [--limit 48] [--repeats 1] [--work DIR]
    [--problems FILE] [--gen-length 64] [--steps 16] [--block-length 32] [--repair-steps 8] [--budget-k 16]

e.g. the minicode model on its own held-out problems at the main job's settings:
    python scripts/bench/evaluate_scale.py --model runs/minicode/sft/final/merged --problems runs/minicode/eval.jsonl \
        --gen-length 96 --steps 96 --block-length 32 --repair-steps 12 --budget-k 12

Variants, each a real `repair.evaluate` run (strategies no-repair + trace-guided, the first --limit MBPP+ problems or
of --problems FILE; defaults gen 64 / N 16 / block 32 / S 8 / K 16, R 3, tau 0.2), run in the order A B C D and repeated A B C D ... (interleaved):
  A  B = 1, 1 rank, sequential tests (--overlap 1)      the old way
  B  B = 8, 1 rank, sequential tests                     batching
  C  B = 8, 1 rank, overlapped tests (--overlap 2)       + overlap
  D  B = 8, 2 ranks (torchrun, gloo), overlapped         + data parallel
problems/s = problems / loop seconds of the slowest rank (OUT/timing.json: the batches alone, after the model is
loaded and the expected outputs are cached by a warm-up run); end-to-end seconds are printed beside. The row flip
rate is the share of rows (task, strategy) of B, C, D that differ from A's (wall times aside).
The model defaults to a freshly built tiny random model (inference.tiny); pass --model to rerun with a trained one.
Timings on a shared CPU are noisy: read ratios from one run, as median (min, max) over the repeats.
Measured 2026-12-05, quiet machine, a minicode SFT model (2.1M params) on 48 of its eval problems (seed 1; the
command above, --repeats 1): problems/s A 1.17, B 1.84, C 1.34, D 1.85 -> B=8 vs 1 1.57x, overlapped vs sequential
0.73x (on 2 cores the test workers take a core from the model's 2 threads; at the main job's settings, 200
problems, block 96, --overlap 2 vs 1 took 170 vs 177 s: 1.04x), 2 ranks vs 1 1.38x (D vs C; 1.00x vs B);
rows differing from A 0/96 in B, C, D. Forward-pass ceilings printed by the same run: batching 1.46x (6.7 ms at
B = 1, 36.6 ms at B = 8 over 156 tokens), 2 ranks 1.14x (a B = 8 pass 38.2 ms on 2 threads, 67.3 ms on 1): the
issue's >= 3x and >= 1.5x are above what this 2-core CPU can give at this model size. (2026-12-04, another SFT run
of the same recipe: A 1.31, B 1.82, C 1.67, D 2.11.)

Projection (a projection, not a measurement): forward passes of the paper's full run x an assumed A100 cost of one
LLaDA-8B forward pass (2 x 8.0e9 x tokens FLOPs at --mfu of 312 TFLOPS bf16), before (1 GPU, B = 1, tests between
forward passes, at --test-seconds per round) and after (8 GPUs data-parallel, B = 8, tests overlapped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from inference.tiny import model_dir_or_tiny  # noqa: E402

VARIANTS = {
    "A: B=1, 1 rank, sequential": dict(batch=1, overlap=1, ranks=1),
    "B: B=8, 1 rank, sequential": dict(batch=8, overlap=1, ranks=1),
    "C: B=8, 1 rank, overlapped": dict(batch=8, overlap=2, ranks=1),
    "D: B=8, 2 ranks, overlapped": dict(batch=8, overlap=2, ranks=2),
}
# The paper's full run: problems, seeds, per-strategy NFE (Table 1; Table 2 ablations; core-reimpl N + 8 during
# generation, core-posthoc N + 4 + 8).
PAPER_PROBLEMS, PAPER_SEEDS = 378 + 164, 3
PAPER_NFE = {"no-repair": 128, "global-low-confidence": 160, "core-reimpl": 136, "best-of-2": 160,
             "trace-guided": 294, "random-in-region": 154, "wide-window": 154, "s8": 135, "s16": 142,
             "core-posthoc": 140}
PAPER_ROUNDS = {"global-low-confidence": 1, "core-reimpl": 1, "best-of-2": 1, "trace-guided": 3, "random-in-region": 3,
                "wide-window": 3, "s8": 3, "s16": 3, "no-repair": 0, "core-posthoc": 1}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_variant(args, v: dict, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    source = ["--problems", args.problems] if args.problems else ["--dataset", "mbpp"]
    common = ["-m", "repair.evaluate", "--model", args.model, *source, "--limit", str(args.limit),
              "--gen-length", str(args.gen_length), "--steps", str(args.steps), "--block-length", str(args.block_length),
              "--repair-steps", str(args.repair_steps), "--budget-k", str(args.budget_k), "--seeds", "0",
              "--strategies", "no-repair,trace-guided", "--workers", "2", "--batch-size", str(v["batch"]),
              "--overlap", str(v["overlap"]), "--out", str(out)]
    if v["ranks"] > 1:
        cmd = ["torchrun", "--nproc_per_node", str(v["ranks"]), "--master_port", str(_port()), *common]
    else:
        cmd = [sys.executable, *common]
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, timeout=7200)
    timing = json.loads((out / "timing.json").read_text())
    return dict(timing, wall=time.perf_counter() - t0)


def rows_of(out: Path) -> dict[tuple[str, str], dict]:
    rows = {}
    for path in (out / "runs").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            rows[(path.name, r["task_id"])] = {k: v for k, v in r.items() if k != "seconds"}
    return rows


def forward_ceilings(model_dir: str, length: int, batch: int = 8, calls: int = 30) -> dict[str, float]:
    """Median seconds of one forward pass over `length` tokens (settings interleaved, warm-up excluded): at B = 1 and
    at B = `batch` on this process's threads, and at B = `batch` on one thread. From them, what batching alone can
    give a model-bound evaluation (batch x t1 / tB) and what 2 ranks can give over 1 (2 x tB / tB_one_thread: the
    ranks split the cores)."""
    import torch

    from inference.loading import load_model

    model = load_model(model_dir).model
    threads = torch.get_num_threads()
    settings = {"t1": (1, threads), "tb": (batch, threads), "tb_one": (batch, 1)}
    ids = {b: torch.randint(0, model.config.vocab_size, (b, length)) for b in (1, batch)}
    times = {k: [] for k in settings}
    with torch.inference_mode():
        for i in range(calls + 3):
            for key, (b, n) in settings.items():
                torch.set_num_threads(n)
                t0 = time.perf_counter()
                model(input_ids=ids[b])
                if i >= 3:
                    times[key].append(time.perf_counter() - t0)
    torch.set_num_threads(threads)
    out = {k: statistics.median(v) for k, v in times.items()}
    return {**out, "threads": threads, "batching": batch * out["t1"] / out["tb"], "ranks": 2 * out["tb"] / out["tb_one"]}


def _med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}, {max(xs):.3f})"


def projection(args) -> None:
    """Paper-scale wall time on A100s: forward passes x assumed cost per pass; tests between passes or hidden."""
    tokens = args.prompt_tokens + 512
    per_pass = 2 * 8.0e9 * tokens / (312e12 * args.mfu)  # seconds for one row's forward pass (B rows cost B x)
    strategies = list(PAPER_NFE)
    counted = PAPER_PROBLEMS * PAPER_SEEDS * sum(PAPER_NFE.values())  # NFE as reported (stage 1 in every strategy)
    # Stage 1 (N = 128) is generated once per (problem, seed) and shared by the 8 strategies that start from it
    # (all but best-of-2), before and after this issue: those are the forward passes actually run.
    passes = counted - PAPER_PROBLEMS * PAPER_SEEDS * 128 * (len(strategies) - 2)
    rounds = PAPER_PROBLEMS * PAPER_SEEDS * (len(strategies) + sum(PAPER_ROUNDS.values()))
    before = passes * per_pass + rounds * args.test_seconds
    after = passes * per_pass / 8  # compute-bound: B = 8 does not cut FLOPs, it fills the GPU; 8 GPUs divide
    print(f"\nPROJECTION (not measured): the paper's full run, {PAPER_PROBLEMS} problems x {PAPER_SEEDS} seeds x "
          f"{len(strategies)} strategies ({', '.join(strategies)}), NFE per problem from the paper's Tables 1-2")
    print(f"assumed: one LLaDA-8B forward pass over {tokens} tokens = 2 x 8.0e9 x {tokens} FLOPs at {args.mfu:.0%} of "
          f"312 TFLOPS (A100 bf16) = {per_pass * 1e3:.0f} ms per row; {args.test_seconds} s of sandboxed tests per "
          "feedback/held-out run")
    print(f"NFE as reported: {counted:,}; forward passes run (stage 1 shared): {passes:,}")
    print("| setting | model GPU-hours | test hours on the critical path | wall hours |")
    print("|---|---|---|---|")
    print(f"| before: 1 A100, B = 1, tests between forward passes | {passes * per_pass / 3600:.1f} | "
          f"{rounds * args.test_seconds / 3600:.1f} | {before / 3600:.1f} |")
    print(f"| after: 8 A100 data-parallel, B = 8, tests overlapped | {passes * per_pass / 3600:.1f} | ~0 | "
          f"{after / 3600:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="model dir (default: a fresh tiny random model)")
    p.add_argument("--limit", type=int, default=48)
    p.add_argument("--problems", default=None, help="a problems JSONL (e.g. python -m data.minicode); default MBPP+")
    p.add_argument("--gen-length", type=int, default=64)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--repair-steps", type=int, default=8)
    p.add_argument("--budget-k", type=int, default=16)
    p.add_argument("--prompt-tokens-here", type=int, default=60, help="ceiling: prompt tokens of the forward passes")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--work", default="/tmp/evaluate_scale")
    p.add_argument("--no-warmup", action="store_true", help="expected outputs are already cached")
    p.add_argument("--mfu", type=float, default=0.4, help="projection: assumed A100 model FLOPs utilisation")
    p.add_argument("--prompt-tokens", type=int, default=150, help="projection: mean prompt length")
    p.add_argument("--test-seconds", type=float, default=0.5, help="projection: sandbox seconds per test run")
    args = p.parse_args()
    args.model = model_dir_or_tiny(args.model)
    work = Path(args.work)
    print(f"model {args.model}; {args.limit} problems of {args.problems or 'MBPP+'}; gen {args.gen_length}, "
          f"N {args.steps}, block {args.block_length}, S {args.repair_steps}, K {args.budget_k}", flush=True)
    if not args.no_warmup:  # caches the expected outputs (repair/execution/expected.py) so no variant pays for them
        run_variant(args, VARIANTS["C: B=8, 1 rank, overlapped"], work / "warmup")
    times: dict[str, list[dict]] = {k: [] for k in VARIANTS}
    for rep in range(args.repeats):
        for name, v in VARIANTS.items():
            times[name].append(run_variant(args, v, work / f"{name[0]}{rep}"))
            print(f"  rep {rep} {name}: loop {times[name][-1]['loop_seconds']:.1f} s, end to end "
                  f"{times[name][-1]['wall']:.1f} s", flush=True)
    ref = rows_of(work / "A0")
    print("\n| variant | problems/s (loop) median (min, max) | loop s | end-to-end s | rows differing from A |")
    print("|---|---|---|---|---|")
    rate = {}
    for name, ts in times.items():
        rate[name] = [args.limit / t["loop_seconds"] for t in ts]
        diff = [sum(rows_of(work / f"{name[0]}{r}").get(k) != v for k, v in ref.items()) for r in range(args.repeats)]
        print(f"| {name} | {_med(rate[name])} | {_med([t['loop_seconds'] for t in ts])} | "
              f"{_med([t['wall'] for t in ts])} | {max(diff)}/{len(ref)} |")
    med = {k: statistics.median(v) for k, v in rate.items()}
    a, b, c, d = (med[k] for k in VARIANTS)
    print(f"\nratios (medians): B=8 vs 1 {b / a:.2f}x; overlapped vs sequential {c / b:.2f}x; 2 ranks vs 1 {d / c:.2f}x; "
          f"all together {d / a:.2f}x")
    c = forward_ceilings(args.model, args.prompt_tokens_here + args.gen_length)
    print(f"forward-pass ceiling of batching on this machine: one pass over {args.prompt_tokens_here + args.gen_length} "
          f"tokens {c['t1'] * 1e3:.1f} ms at B = 1, {c['tb'] * 1e3:.1f} ms at B = 8 -> {c['batching']:.2f}x rows/s "
          "(B = 8 vs 1 cannot beat this where the forward passes dominate)")
    print(f"forward-pass ceiling of 2 ranks: B = 8 pass {c['tb'] * 1e3:.1f} ms on {c['threads']} threads (1 rank), "
          f"{c['tb_one'] * 1e3:.1f} ms on 1 (each of 2 ranks) -> {c['ranks']:.2f}x (2 ranks vs 1 cannot beat this "
          "where the forward passes dominate)")
    projection(args)


if __name__ == "__main__":
    main()
