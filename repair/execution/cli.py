"""Shared plumbing of the `repair.check` and `repair.localize` entry points (argument set, jobs, jsonl io)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from data.jsonl import read_jsonl as read_rows
from data.usage import UsageError
from repair.execution.execution import program_of
from repair.execution.sandbox import Limits


def add_common_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=["humaneval", "mbpp"])
    source.add_argument("--problems", help="jsonl of problems in evalplus's schema (or assert-style)")
    parser.add_argument("--samples", required=True, help="jsonl of {task_id, solution} or {task_id, completion}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout-per-test", type=float, default=5.0)
    parser.add_argument("--timeout-per-problem", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--feedback-fraction", type=float, default=None,
                        help="select only the feedback tests of the deterministic split (seed 42)")


SAMPLE_FIELDS = ("task_id", ("solution", "completion"))


def read_jsonl(path: str) -> list[dict]:
    """The samples; a malformed row is a UsageError naming FILE:LINE, before any test runs."""
    return read_rows(path, "samples file", required=SAMPLE_FIELDS).rows


def check_args(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.feedback_fraction is not None and not 0 < args.feedback_fraction <= 1:
        raise UsageError(f"--feedback-fraction must be in (0, 1], got {args.feedback_fraction}")


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def prepare(args: argparse.Namespace) -> tuple[list[dict], list[tuple], Limits]:
    """Samples (those with a known task) and their jobs [(problem, program, selected test indices or None)]."""
    from data.problems import load_problems, split_tests
    from repair.execution.expected import with_expected

    check_args(args)
    problems = {p.task_id: p for p in load_problems(dataset=args.dataset, path=args.problems)}
    samples = read_jsonl(args.samples)
    unknown = sorted({s["task_id"] for s in samples} - problems.keys())
    if unknown:
        print(f"skipping samples of unknown tasks: {unknown[:5]}{'...' if len(unknown) > 5 else ''}", file=sys.stderr)
    samples = [s for s in samples if s["task_id"] in problems]
    needed = with_expected([problems[t] for t in dict.fromkeys(s["task_id"] for s in samples)],
                           workers=args.workers, progress=True)
    problems.update({p.task_id: p for p in needed})
    jobs = []
    for s in samples:
        p = problems[s["task_id"]]
        indices = split_tests(p, args.feedback_fraction).feedback if args.feedback_fraction else None
        jobs.append((p, program_of(p, s), indices))
    limits = Limits(timeout_per_test=args.timeout_per_test, timeout_per_problem=args.timeout_per_problem)
    return samples, jobs, limits


def report_isolation(workers: int) -> None:
    from repair.execution.execution import default_pool

    print(default_pool(workers).isolation().describe(), file=sys.stderr)
