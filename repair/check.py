"""Run samples against their problems' tests in the sandbox.

python -m repair.check (--dataset humaneval|mbpp | --problems P.jsonl) --samples S.jsonl --out R.jsonl
    [--timeout-per-test 5] [--timeout-per-problem 30] [--workers N] [--feedback-fraction F]

One row per sample: task_id, status ("pass" only when every selected test passed), passed, total, tests (status per
selected test) and indices (which tests were selected).
"""

from __future__ import annotations

import argparse

from data.usage import run_cli
from repair.execution.cli import add_common_args, prepare, report_isolation, write_jsonl
from repair.execution.execution import run_many


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repair.check", description=__doc__.split("\n")[0])
    add_common_args(parser)
    args = parser.parse_args(argv)
    samples, jobs, limits = prepare(args)
    report_isolation(args.workers)
    results = run_many(jobs, workers=args.workers, limits=limits)
    rows = [{"task_id": r.task_id, "status": r.status, "passed": r.passed, "total": r.total,
             "tests": [t.status for t in r.tests], "indices": [t.index for t in r.tests]} for r in results]
    write_jsonl(args.out, rows)
    print(f"{sum(r['status'] == 'pass' for r in rows)}/{len(rows)} samples pass -> {args.out}")


if __name__ == "__main__":
    run_cli(main)
