"""Scoring programs against assert tests: the pass fraction each program earns in the sandbox.

Shared by RL rewards (rl/rewards.py) and the repair jobs' filters (synthesis, noise-and-resume repair).
"""

from __future__ import annotations

from data.problems import Problem
from repair.execution.execution import run_many
from repair.execution.sandbox import Limits


def pass_fractions(programs: list[str], tests: list[list[str]], timeout_per_test: float, timeout_per_program: float,
                   workers: int) -> list[float]:
    """Fraction of each program's assert tests that the harness itself saw pass (one sandbox per program)."""
    if not programs:
        return []
    jobs = [(Problem(task_id=f"rollout/{i}", prompt="", entry_point="", tests=list(t)), prog, None)
            for i, (prog, t) in enumerate(zip(programs, tests))]
    limits = Limits(timeout_per_test=timeout_per_test, timeout_per_problem=timeout_per_program)
    results = run_many(jobs, workers=workers, limits=limits, progress=False)
    return [r.passed / max(r.total, 1) for r in results]
