"""Benchmark problems in evalplus's schema, their expected outputs, and the deterministic feedback/held-out split.

- `load_problems("humaneval" | "mbpp")` goes through evalplus.data (MBPP+ inputs need its deserialisation);
  `load_problems(path=...)` reads a jsonl in the same schema, or assert-style rows (`tests` / `test_cases`); both
  refuse problems without tests, naming them (nothing could be held out); a file's rows with function-call tests
  but no `entry_point` are refused by FILE:LINE (nothing to call: no expected output, every program fails).
- Offline: when HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH are unset and `<repo>/../shared/data/*.jsonl.gz`
  exists, those files are used (set before evalplus.data is imported; patched into it if it already was).
Expected outputs (running canonical solutions) are an execution concern: repair.execution.expected.with_expected.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError

from data.jsonl import read_jsonl
from data.usage import UsageError

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# dataset -> (override variable, offline file name, evalplus loader, evalplus module)
DATASETS = {
    "humaneval": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus.jsonl.gz", "get_human_eval_plus", "humaneval"),
    "mbpp": ("MBPP_OVERRIDE_PATH", "MbppPlus.jsonl.gz", "get_mbpp_plus", "mbpp"),
}
_TASK_PREFIX = {"HumanEval/": "humaneval", "Mbpp/": "mbpp"}


@dataclass
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str = ""
    inputs: list = field(default_factory=list)  # base_input + plus_input: argument lists of entry_point
    atol: float = 0.0
    tests: list[str] | None = None  # assert statements (assert-style problems); replaces inputs when set
    dataset: str = ""  # "humaneval" | "mbpp" | "" (selects evalplus's special oracles)
    n_base: int = 0  # how many of `inputs` are evalplus base inputs
    expected: list | None = None  # per input: ["v", value] | ["d", digest] | ["x", reason]; see repair.execution.expected
    reference_seconds: float = 0.0  # run time of the canonical solution on all inputs (scheduling hint)


@dataclass(frozen=True)
class TestSplit:
    feedback: list[int]
    heldout: list[int]


def use_offline_data() -> None:
    """Point evalplus at <repo>/../shared/data when no override is set (tests and CI run without internet)."""
    for var, filename, _loader, module in DATASETS.values():
        local = SHARED_DATA / filename
        if not os.environ.get(var) and local.exists():
            os.environ[var] = str(local)
            loaded = sys.modules.get(f"evalplus.data.{module}")
            if loaded is not None:  # evalplus reads the variable at import time
                setattr(loaded, var, str(local))


def _dataset_of(task_id: str) -> str:
    return next((name for prefix, name in _TASK_PREFIX.items() if task_id.startswith(prefix)), "")


def problem_from_row(row: dict, dataset: str | None = None) -> Problem:
    """One evalplus-schema (or assert-style) record -> Problem; MBPP+ inputs are deserialised by evalplus."""
    dataset = _dataset_of(row["task_id"]) if dataset is None else dataset
    base, plus = list(row.get("base_input") or []), list(row.get("plus_input") or [])
    if dataset == "mbpp" and not row.get("_deserialised"):
        from evalplus.data.mbpp import mbpp_deserialize_inputs

        base, plus = mbpp_deserialize_inputs(row["task_id"], base), mbpp_deserialize_inputs(row["task_id"], plus)
    tests = row.get("tests") or row.get("test_cases")
    return Problem(task_id=row["task_id"], prompt=row.get("prompt", ""), entry_point=row.get("entry_point", ""),
                   canonical_solution=row.get("canonical_solution", ""), inputs=base + plus,
                   atol=float(row.get("atol") or 0.0), tests=list(tests) if tests else None, dataset=dataset,
                   n_base=len(base))


# What a problem row needs to be read; a row without tests is refused afterwards by require_tests, which names every
# such problem at once.
PROBLEM_FIELDS = ("task_id",)


def _read_problems(path: str) -> list[Problem]:
    """Problems of a jsonl(.gz) file; a bad row (or a repeated task_id) is a UsageError naming FILE:LINE."""
    f = read_jsonl(path, "problems file", required=PROBLEM_FIELDS)
    first_line: dict[str, int] = {}
    for row, line in zip(f.rows, f.lines):
        if row["task_id"] in first_line:
            raise UsageError(f"{path}:{line}: task_id {row['task_id']!r} repeats line {first_line[row['task_id']]} "
                             "in the problems file; task ids must be unique")
        first_line[row["task_id"]] = line
    problems = [problem_from_row(row) for row in f.rows]
    empty = [(p.task_id, line) for p, line in zip(problems, f.lines) if n_tests(p) == 0]
    if empty:
        raise UsageError(f"{path}:{empty[0][1]}: {_no_tests(len(empty), [t for t, _ in empty])} (missing field "
                         "'tests' or 'test_cases', or empty base_input / plus_input)")
    nameless = [(p.task_id, line) for p, line in zip(problems, f.lines) if not has_entry_point(p)]
    if nameless:
        raise UsageError(f"{path}:{nameless[0][1]}: {_no_entry_point(len(nameless), [t for t, _ in nameless])}")
    return problems


def load_problems(dataset: str | None = None, path: str | None = None) -> list[Problem]:
    """Exactly one of `dataset` ("humaneval" | "mbpp", through evalplus) or `path` (a jsonl in that schema)."""
    if (dataset is None) == (path is None):
        raise ValueError("give exactly one of dataset= or path=")
    if path is not None:
        return require_tests(_read_problems(path))
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    use_offline_data()
    import evalplus.data

    try:
        rows = getattr(evalplus.data, DATASETS[dataset][2])()  # already deserialised by evalplus
    except URLError as e:  # not cached, no override, no network: evalplus's download failed
        var, filename = DATASETS[dataset][:2]
        raise UsageError(f"--dataset {dataset}: evalplus could not download it ({e.reason}); the machine seems "
                         f"offline: set {var} to a local {filename} or put it in {SHARED_DATA}") from None
    return require_tests([problem_from_row(dict(row, _deserialised=True), dataset) for row in rows.values()])


def n_tests(problem: Problem) -> int:
    return len(problem.tests) if problem.tests else len(problem.inputs)


def require_tests(problems: list[Problem]) -> list[Problem]:
    """Refuse problems without a single test, naming them: nothing could be held out, and an empty held-out set
    passes any program."""
    empty = [p.task_id for p in problems if n_tests(p) == 0]
    if empty:
        raise UsageError(_no_tests(len(empty), empty))
    return problems


def has_entry_point(problem: Problem) -> bool:
    """Function-call tests (base_input / plus_input) call `entry_point` with each input: without a function name no
    expected output can be computed and every program fails, silently. Assert-style tests name what they call."""
    return bool(problem.tests) or (isinstance(problem.entry_point, str) and problem.entry_point.isidentifier())


def _no_entry_point(n: int, task_ids: list[str]) -> str:
    shown = ", ".join(task_ids[:20]) + (f" and {n - 20} more" if n > 20 else "")
    return (f"{n} problem(s) have function-call tests (base_input / plus_input) but no 'entry_point' naming the "
            f"function to call, so no expected output could be computed and every program would fail: {shown}; "
            "add the function's name as 'entry_point' (or give assert-style 'tests')")


def _no_tests(n: int, task_ids: list[str]) -> str:
    shown = ", ".join(task_ids[:20]) + (f" and {n - 20} more" if n > 20 else "")
    return (f"{n} problem(s) have no tests, so no held-out test could judge them (an empty held-out split would "
            f"count as passed): {shown}")


def split_tests(problem: Problem, feedback_fraction: float = 0.2, seed: int = 42) -> TestSplit:
    """Deterministic per problem (seed and task_id through sha256, never hash()). The held-out split, which pass@1
    counts, is never empty: >= 1 feedback test when there are >= 2 tests, and at least one test always stays held
    out, so a problem with a single test keeps it held out (no feedback: the loop cannot repair it, but no program
    passes it for free); a problem without tests is refused."""
    n = n_tests(require_tests([problem])[0])
    k = min(n - 1, max(1, round(n * feedback_fraction)))
    digest = hashlib.sha256(f"{seed}:{problem.task_id}".encode()).digest()
    chosen = set(random.Random(int.from_bytes(digest[:8], "big")).sample(range(n), k))
    return TestSplit(sorted(chosen), [i for i in range(n) if i not in chosen])
