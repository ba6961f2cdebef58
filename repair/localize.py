"""Localize the failures of samples (paper Stage 2): run the tests, trace the failing ones, pick lines.

python -m repair.localize (--dataset humaneval|mbpp | --problems P.jsonl) --samples S.jsonl --out L.jsonl
    [--feedback-fraction F] [--window 1] [--max-trace-lines 20] [--trace-reading events|distinct]
    [--timeout-per-test 5] [--timeout-per-problem 30] [--workers N]

One row per sample: task_id, method (exception|syntax|assertion|fallback|passed), lines (1-based, of the full program),
tests (indices of the failing tests the lines come from).
"""

from __future__ import annotations

import argparse

from data.usage import run_cli
from repair.execution.cli import add_common_args, prepare, report_isolation, write_jsonl
from repair.execution.execution import run_many
from repair.execution.localize import TRACE_READINGS, localize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repair.localize", description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--window", type=int, default=1)
    parser.add_argument("--max-trace-lines", type=int, default=20)
    parser.add_argument("--trace-reading", choices=TRACE_READINGS, default="events",
                        help="wrong outputs: the last M line events (default) or the last M distinct lines")
    args = parser.parse_args(argv)
    samples, jobs, limits = prepare(args)
    report_isolation(args.workers)
    results = run_many(jobs, workers=args.workers, limits=limits, trace=True)
    rows = []
    for (_problem, program, _), res in zip(jobs, results):
        loc = localize(res.tests, program, window=args.window, max_trace_lines=args.max_trace_lines,
                       trace_reading=args.trace_reading)
        rows.append({"task_id": res.task_id, "method": loc.method, "lines": loc.lines, "tests": loc.tests})
    write_jsonl(args.out, rows)
    print(f"{len(rows)} localizations -> {args.out}")


if __name__ == "__main__":
    run_cli(main)
