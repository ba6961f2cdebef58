"""Benchmark: our sandboxed harness vs evalplus on MBPP+ samples (same samples, same workers, interleaved).

python scripts/bench/harness.py [--limit N] [--every K] [--workers 2] [--rounds 1] [--all-tests] [--tracing]

Samples: the 378 canonical solutions, and 378 wrong ones made deterministically from them: the entry point is
wrapped so it still runs the canonical code (a wrong solution costs what a right one does) and then returns the
string '<wrong>' (WRONG below). A wrong sample fails its first test, except where evalplus's special oracles accept
anything / any non-None value (Mbpp/164 and the `output is not None` tasks), so the set has both verdicts.
"canonical" = the 378 canonical samples, "mixed" = all 756 in one batch.

Each round runs evalplus, ours, evalplus, ours (canonical, then mixed), so the machine's load hits both alike; the
ratios of every round are printed, with the median (min, max) over rounds. Expected outputs are warmed beforehand for
both, so neither pays for ground truth.
- evalplus: `evalplus.evaluate.check_correctness` for every sample in a ProcessPoolExecutor, exactly as
  `evalplus.evaluate.evaluate` runs it by default (fast_check: stop at the first failing test; default time limits);
  verdict = base and plus both pass. (evaluate() itself is not called because it refuses a subset of the tasks,
  which --limit needs.)
- ours: `repair.execution.run_many(..., fail_fast=True)` (the verdict-only mode: stop at the first failing test,
  like fast_check); verdict = every test passed. --all-tests runs every test of every sample instead (the mode that
  gives per-test results, used for rewards and repair).
- --tracing: canonical solutions made wrong, every test re-run under the line tracer; off vs on, on the problems
  whose reference run takes < 1 s.
Disagreements are listed with evalplus's per-test time limit and our run time of the test evalplus failed; each
is re-checked by evalplus alone, and counted as an evalplus time-limit failure when evalplus then passes it.
--timeout-per-problem defaults to 60 s (evalplus's EVALPLUS_TIMEOUT_PER_TASK): Mbpp/599's tests take ~30 s in all.
Measured 2026-12-04, quiet machine, defaults (all 378 problems, 2 workers, fail-fast): agreement 756/756; mixed
evalplus 113.7 s vs ours 26.8 s = 4.24x; canonical 63.6 s vs 25.0 s = 2.54x (not profiled; a spread subset, --every 10,
gave canonical 8.53x, so the full set is probably bound by its few longest problems, whose tests one worker runs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from data.problems import load_problems, use_offline_data  # noqa: E402
from repair.execution import Limits, run_many  # noqa: E402
from repair.execution.expected import with_expected  # noqa: E402
from repair.execution.sandbox import namespaces_available  # noqa: E402

WRONG = "\n\n_bench_original = {ep}\n\ndef {ep}(*args):\n    _bench_original(*args)\n    return '<wrong>'\n"


def program(p, wrong: bool) -> str:
    return p.prompt + p.canonical_solution + (WRONG.format(ep=p.entry_point) if wrong else "")


def evalplus_side(samples: list[tuple], workers: int) -> tuple[list, dict, float]:
    """samples [(problem, wrong)] -> evalplus verdicts [(passed, failing test index or None, base, plus)],
    per-test limits {task_id: [...]}, seconds."""
    from evalplus.config import DEFAULT_GT_TIME_LIMIT_FACTOR, DEFAULT_MIN_TIME_LIMIT
    from evalplus.data import get_mbpp_plus, get_mbpp_plus_hash
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.evaluate import check_correctness, get_groundtruth

    problems = get_mbpp_plus()
    expected = get_groundtruth(problems, get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(check_correctness, "mbpp", 0, problems[p.task_id], program(p, wrong), expected[p.task_id],
                             False, True, p.task_id, DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR)
                   for p, wrong in samples]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - started
    verdicts, limits = [], {}
    for (p, _), r in zip(samples, results):
        t = p.task_id
        times = expected[t]["base_time"] + expected[t]["plus_time"]
        limits[t] = [max(DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR * x) for x in times]
        (bs, bd), (ps, pd) = r["base"], r["plus"]
        failing = None if bs == "pass" else len(bd) - 1 if len(bd) else 0
        if failing is None and ps != "pass":
            failing = len(expected[t]["base"]) + max(len(pd) - 1, 0)
        verdicts.append((bs == ps == "pass", failing, bs, ps))
    return verdicts, limits, seconds


def ours(samples: list[tuple], workers: int, limits: Limits, trace: bool = False, fail_fast: bool = True):
    jobs = [(p, program(p, wrong), None) for p, wrong in samples]
    started = time.perf_counter()
    results = run_many(jobs, workers=workers, limits=limits, trace=trace, progress=False, fail_fast=fail_fast)
    return results, time.perf_counter() - started


def compare(samples, our_results, ep_verdicts, ep_limits) -> tuple[int, int, list[str]]:
    """Agreement; an evalplus failure counts as a time-limit one when evalplus says timeout or when evalplus
    itself passes the same sample on a second run alone (its 1 s / 4x-reference limits are load-sensitive)."""
    agree, excluded, lines = 0, 0, []
    for (p, wrong), r, (ep_pass, failing, bs, ps) in zip(samples, our_results, ep_verdicts):
        if (r.status == "pass") == ep_pass:
            agree += 1
            continue
        ours_s = r.tests[failing].seconds if failing is not None and failing < len(r.tests) else float("nan")
        limit = ep_limits[p.task_id][failing] if failing is not None else float("nan")
        rerun = evalplus_side([(p, wrong)], 1)[0][0][0] if not ep_pass else ep_pass
        ep_timeout = "timeout" in (bs, ps) or (rerun and r.status == "pass")
        excluded += ep_timeout
        lines.append(f"  {p.task_id:10s} {'wrong' if wrong else 'canonical':9s} evalplus={bs}/{ps} (test {failing}, limit {limit:.2f}s) "
                     f"ours={r.status} {r.passed}/{r.total} (that test {ours_s:.2f}s here)"
                     f"; evalplus re-run alone: {'pass' if rerun else 'fail'}"
                     f"{'  -> evalplus time limit' if ep_timeout else ''}")
    return agree, excluded, lines


def one_round(sets: dict, args, limits: Limits) -> dict:
    """{set name: (evalplus verdicts, evalplus limits, evalplus s, our results, our s)}, alternating the two."""
    out = {}
    for name, samples in sets.items():
        ep_verdicts, ep_limits, ep_s = evalplus_side(samples, args.workers)
        our_results, our_s = ours(samples, args.workers, limits, fail_fast=not args.all_tests)
        out[name] = (ep_verdicts, ep_limits, ep_s, our_results, our_s)
        print(f"  {name}: evalplus {ep_s:.1f}s, ours {our_s:.1f}s -> {ep_s / our_s:.2f}x", flush=True)
    return out


def tracing(problems: list, args, limits: Limits) -> None:
    light = [(p, True) for p in problems if p.reference_seconds < 1.0]
    _, plain_s = ours(light, args.workers, limits, trace=False, fail_fast=False)
    traced, traced_s = ours(light, args.workers, limits, trace=True, fail_fast=False)
    n_traced = sum(t.trace_lines is not None for r in traced for t in r.tests)
    print(f"\ntracing ({len(light)} failing samples, {n_traced} traced tests): off {plain_s:.1f}s, on {traced_s:.1f}s "
          f"-> tracing_overhead={traced_s / plain_s:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--every", type=int, default=1, help="every K-th problem (a spread-out subset)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--all-tests", action="store_true", help="ours runs every test (no fail-fast)")
    parser.add_argument("--tracing", action="store_true", help="also measure the line tracer's overhead")
    parser.add_argument("--timeout-per-test", type=float, default=5.0)
    parser.add_argument("--timeout-per-problem", type=float, default=60.0)
    args = parser.parse_args()
    use_offline_data()
    limits = Limits(timeout_per_test=args.timeout_per_test, timeout_per_problem=args.timeout_per_problem)
    problems = with_expected(load_problems("mbpp")[: args.limit : args.every], workers=args.workers, progress=True)
    sets = {"canonical": [(p, False) for p in problems], "mixed": [(p, w) for w in (False, True) for p in problems]}
    print(f"{len(problems)} MBPP+ problems, {sum(len(p.inputs) for p in problems)} tests, workers={args.workers}, "
          f"namespaces={'on' if namespaces_available() else 'off'}, ours: "
          f"{'all tests' if args.all_tests else 'fail-fast'}", flush=True)
    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", flush=True)
        rounds.append(one_round(sets, args, limits))
    last = rounds[-1]
    ep_verdicts, ep_limits, _, our_results, _ = last["mixed"]
    agree, excluded, lines = compare(sets["mixed"], our_results, ep_verdicts, ep_limits)
    n = len(sets["mixed"])
    print(f"\n{'':34s}{'evalplus':>12s}{'ours':>12s}")
    for name in sets:
        ep_v, _, ep_s, res, our_s = last[name]
        print(f"{name + ' samples passing':34s}{sum(v[0] for v in ep_v):>12d}{sum(x.status == 'pass' for x in res):>12d}")
        print(f"{name + ' wall seconds':34s}{ep_s:>12.1f}{our_s:>12.1f}")
    print(f"\nverdict agreement (mixed, last round): {agree}/{n}; disagreements ({len(lines)}):")
    print("\n".join(lines) or "  none")
    if args.tracing:
        tracing(problems, args, limits)
    figures = []
    for name in sets:
        ratios = [rd[name][2] / rd[name][4] for rd in rounds]
        figures.append(f"{name}={statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")
    print(f"RESULT agreement={agree}/{n} (excluding evalplus time limits: {agree}/{n - excluded}) "
          f"speed_ratio evalplus/ours over {args.rounds} round(s), median (min-max): " + " ".join(figures))


if __name__ == "__main__":
    main()
