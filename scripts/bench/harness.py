"""Benchmark: our sandboxed harness vs evalplus on MBPP+ canonical solutions (same samples, same workers).

python scripts/bench/harness.py [--limit N] [--workers 2] [--timeout-per-problem 60] [--timeout-per-test 5]

Timed parts (expected outputs are warmed beforehand for both, so neither pays for ground truth):
- evalplus: `evalplus.evaluate.check_correctness` for every sample in a ProcessPoolExecutor, exactly as
  `evalplus.evaluate.evaluate` runs it (fast_check, default time limits); verdict = base and plus both pass.
  (evaluate() itself is not called because it refuses a subset of the tasks, which --limit needs.)
- ours: `repair.execution.run_many` over all tests, verdict = every test passed.
- tracing overhead: canonical solutions wrapped to return a wrong value, so every test fails and is re-run under
  the line tracer; run with trace off vs on, on the problems whose reference run takes < 1 s.
Disagreements are listed with evalplus's per-test time limit and our run time of the test evalplus failed; each
is re-checked by evalplus alone, and counted as an evalplus time-limit failure when evalplus then passes it.
--timeout-per-problem defaults to 60 s (evalplus's EVALPLUS_TIMEOUT_PER_TASK): Mbpp/599's tests take ~30 s in all.
"""

from __future__ import annotations

import argparse
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


def evalplus_side(task_ids: list[str], workers: int) -> tuple[dict, dict, float]:
    """evalplus verdicts {task_id: (passed, failing test index or None, base, plus)}, per-test limits, seconds."""
    from evalplus.config import DEFAULT_GT_TIME_LIMIT_FACTOR, DEFAULT_MIN_TIME_LIMIT
    from evalplus.data import get_mbpp_plus, get_mbpp_plus_hash
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.evaluate import check_correctness, get_groundtruth

    problems = get_mbpp_plus()
    expected = get_groundtruth(problems, get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futures = {t: ex.submit(check_correctness, "mbpp", 0, problems[t],
                                problems[t]["prompt"] + problems[t]["canonical_solution"], expected[t],
                                False, True, t, DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR)
                   for t in task_ids}
        results = {t: f.result() for t, f in futures.items()}
    seconds = time.perf_counter() - started
    verdicts, limits = {}, {}
    for t, r in results.items():
        times = expected[t]["base_time"] + expected[t]["plus_time"]
        limits[t] = [max(DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR * x) for x in times]
        (bs, bd), (ps, pd) = r["base"], r["plus"]
        failing = None if bs == "pass" else len(bd) - 1 if len(bd) else 0
        if failing is None and ps != "pass":
            failing = len(expected[t]["base"]) + max(len(pd) - 1, 0)
        verdicts[t] = (bs == ps == "pass", failing, bs, ps)
    return verdicts, limits, seconds


def ours(problems: list, workers: int, limits: Limits, trace: bool = False, wrong: bool = False):
    jobs = [(p, p.prompt + p.canonical_solution + (WRONG.format(ep=p.entry_point) if wrong else ""), None)
            for p in problems]
    started = time.perf_counter()
    results = run_many(jobs, workers=workers, limits=limits, trace=trace, progress=False)
    return results, time.perf_counter() - started


def compare(problems, our_results, ep_verdicts, ep_limits) -> tuple[int, int, list[str]]:
    """Agreement; an evalplus failure counts as a time-limit one when evalplus says timeout or when evalplus
    itself passes the same sample on a second run alone (its 1 s / 4x-reference limits are load-sensitive)."""
    agree, excluded, lines = 0, 0, []
    for p, r in zip(problems, our_results):
        ep_pass, failing, bs, ps = ep_verdicts[p.task_id]
        if (r.status == "pass") == ep_pass:
            agree += 1
            continue
        ours_s = r.tests[failing].seconds if failing is not None and failing < len(r.tests) else float("nan")
        limit = ep_limits[p.task_id][failing] if failing is not None else float("nan")
        rerun = evalplus_side([p.task_id], 1)[0][p.task_id][0] if not ep_pass else ep_pass
        ep_timeout = "timeout" in (bs, ps) or (rerun and r.status == "pass")
        excluded += ep_timeout
        lines.append(f"  {p.task_id:10s} evalplus={bs}/{ps} (test {failing}, limit {limit:.2f}s) "
                     f"ours={r.status} {r.passed}/{r.total} (that test {ours_s:.2f}s here)"
                     f"; evalplus re-run alone: {'pass' if rerun else 'fail'}"
                     f"{'  -> evalplus time limit' if ep_timeout else ''}")
    return agree, excluded, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout-per-test", type=float, default=5.0)
    parser.add_argument("--timeout-per-problem", type=float, default=60.0)
    args = parser.parse_args()
    use_offline_data()
    limits = Limits(timeout_per_test=args.timeout_per_test, timeout_per_problem=args.timeout_per_problem)
    problems = with_expected(load_problems("mbpp")[: args.limit], workers=args.workers, progress=True)
    ids = [p.task_id for p in problems]
    print(f"{len(problems)} MBPP+ problems, {sum(len(p.inputs) for p in problems)} tests, workers={args.workers}, "
          f"namespaces={'on' if namespaces_available() else 'off'}", flush=True)

    ep_verdicts, ep_limits, ep_s = evalplus_side(ids, args.workers)
    our_results, our_s = ours(problems, args.workers, limits)
    agree, excluded, lines = compare(problems, our_results, ep_verdicts, ep_limits)

    light = [p for p in problems if p.reference_seconds < 1.0]
    _, plain_s = ours(light, args.workers, limits, trace=False, wrong=True)
    traced, traced_s = ours(light, args.workers, limits, trace=True, wrong=True)
    n_traced = sum(t.trace_lines is not None for r in traced for t in r.tests)

    ep_pass = sum(v[0] for v in ep_verdicts.values())
    our_pass = sum(r.status == "pass" for r in our_results)
    print(f"\n{'':34s}{'evalplus':>12s}{'ours':>12s}")
    print(f"{'canonical solutions passing':34s}{ep_pass:>12d}{our_pass:>12d}")
    print(f"{'wall seconds':34s}{ep_s:>12.1f}{our_s:>12.1f}")
    print(f"{'samples / second':34s}{len(ids) / ep_s:>12.2f}{len(ids) / our_s:>12.2f}")
    print(f"\nverdict agreement: {agree}/{len(ids)}; disagreements ({len(lines)}):")
    print("\n".join(lines) or "  none")
    print(f"\ntracing ({len(light)} failing samples, {n_traced} traced tests): "
          f"off {plain_s:.1f}s, on {traced_s:.1f}s")
    comparable = len(ids) - excluded
    print(f"RESULT agreement={agree}/{len(ids)} (excluding evalplus time limits: {agree}/{comparable}) "
          f"speed_ratio={ep_s / our_s:.2f}x tracing_overhead={traced_s / plain_s:.2f}x")


if __name__ == "__main__":
    main()
