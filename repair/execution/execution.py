"""Run the tests of one problem on one program (one sandboxed process for all its tests), or of many in parallel.

Two test styles share one path:
- function-call tests (evalplus schema): `problem.inputs[i]` are the arguments of `problem.entry_point`; the child
  returns encoded outputs and the parent judges them against `problem.expected[i]` (evalplus rules, compare.py);
- assert tests (`problem.tests[i]`, e.g. RL datasets): `assert <expr> == <literal>` is split so the parent judges
  the value; any other statement runs in the child and passes when it does not raise.

If the child dies or hangs inside test k, test k is marked crashed/timeout and the remaining tests continue in a
fresh child (a bounded number of times), so one `os._exit` does not hide the outcomes of the other tests.
"""

from __future__ import annotations

import ast
import atexit
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from repair.execution import compare
from repair.execution.sandbox import Limits, RawRun, Sandbox, SandboxPool

STATUSES = ("pass", "fail", "error", "timeout", "crashed", "skipped")  # skipped: after the first failure (fail_fast)
MAX_RESTARTS = 4
MAX_ITEMS = 200_000  # outputs with more nodes travel as a digest
MAX_DIGEST_ITEMS = 5_000_000  # beyond this an output is an error (hashing it would take longer than the test)
DEFAULT_LIMITS = Limits()
_FAULT_FRAME = re.compile(rb'File "<candidate>", line (\d+)')
_DUMP_HEADER = b"(most recent call first):"  # faulthandler's "Stack (...)" / "Current thread 0x... (...)" line


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    index: int
    status: str  # pass | fail | error | timeout | crashed | skipped
    exc_type: str | None = None
    message: str | None = None
    # candidate line numbers, innermost last; a syntax error in the candidate ends with the line it reports
    frames: list[int] = field(default_factory=list)
    trace_lines: list[int] | None = None  # last distinct executed candidate lines, in order of last execution
    trace_events: list[int] | None = None  # last executed candidate line events, in execution order (repeats kept)
    seconds: float = 0.0


@dataclass
class ProblemResult:
    task_id: str
    status: str  # "pass" when every selected test passed, else the status of the first non-passing test
    passed: int
    total: int
    tests: list[TestResult]
    output: str = ""  # captured stdout/stderr of the (last) run, truncated


def program_of(problem, sample: dict) -> str:
    """evalplus convention: a sample carries a full `solution`, or a `completion` appended to the prompt."""
    return sample["solution"] if "solution" in sample else problem.prompt + sample["completion"]


# ---- test specifications ----
def _assert_spec(source: str) -> tuple[tuple[str, str], list | None]:
    """`assert X == <literal>` -> evaluate X in the child, compare in the parent; anything else runs as is."""
    try:
        tree = ast.parse(source.strip())
        node = tree.body[0] if len(tree.body) == 1 else None
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            cmp = node.test
            if len(cmp.ops) == 1 and isinstance(cmp.ops[0], ast.Eq):
                return ("expr", ast.unparse(cmp.left)), ["v", ast.literal_eval(cmp.comparators[0])]
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass
    return ("stmt", source), None


def test_count(problem) -> int:
    return len(problem.tests) if getattr(problem, "tests", None) else len(problem.inputs)


def _specs(problem, indices: list[int]) -> tuple[str, dict[int, Any], dict[int, list | None]]:
    if getattr(problem, "tests", None):
        pairs = {i: _assert_spec(problem.tests[i]) for i in indices}
        return "assert", {i: p[0] for i, p in pairs.items()}, {i: p[1] for i, p in pairs.items()}
    if problem.expected is None:
        raise ValueError(f"{problem.task_id}: no expected outputs; attach them with repair.execution.expected.with_expected")
    return "call", {i: tuple(problem.inputs[i]) for i in indices}, {i: problem.expected[i] for i in indices}


# ---- one sandboxed pass over a list of tests ----
@dataclass
class _Pass:
    kind: str
    program: str
    entry_point: str
    specs: dict[int, Any]
    trace: bool
    trace_cap: int

    def payload(self, pending: list[int], limits: Limits) -> dict:
        return {"program": self.program, "entry_point": self.entry_point, "kind": self.kind,
                "tests": [(i, self.specs[i]) for i in pending], "timeout": limits.timeout_per_test,
                "trace": self.trace, "trace_cap": self.trace_cap, "max_items": MAX_ITEMS,
                "max_digest_items": MAX_DIGEST_ITEMS}


def _dumped_frames(output: bytes) -> list[int]:
    """Candidate lines of the LAST stack faulthandler dumped (on SIGALRM or a fatal signal), innermost last: the
    output may hold dumps of earlier timed-out tests of the same child."""
    last = output.rfind(_DUMP_HEADER)
    if last < 0:
        return []
    return [int(m) for m in _FAULT_FRAME.findall(output, last)][::-1]  # faulthandler prints innermost first


def _casualty(index: int, raw: RawRun, reason: str | None = None, ran: bool = True) -> dict:
    """The test that was running when the child died or hung (ran=False: a test that never started)."""
    status = "timeout" if raw.ended in ("test-timeout", "problem-timeout") else "crashed"
    frames = _dumped_frames(raw.output) if ran else []
    tail = raw.output[-400:].decode("utf-8", "replace")
    message = reason or f"{raw.ended}: no result from the test" + (f"; output tail: {tail}" if tail else "")
    return {"status": status, "exc_type": None, "message": message, "frames": frames}


def _record(rec: list) -> dict:
    _, index, status, exc_type, message, frames, trace, seconds, encoded, events = rec
    return {"status": status, "exc_type": exc_type, "message": message, "frames": frames,
            "trace_lines": trace, "trace_events": events, "seconds": seconds, "encoded": encoded}


def _run_pass(sandbox: Sandbox, spec: _Pass, indices: list[int], limits: Limits,
              stop: Callable[[list], bool] | None = None) -> dict[int, dict]:
    """Raw outcomes {index: record dict}; `stop(record)` ends the pass early, the tests not run are "skipped"."""
    results: dict[int, dict] = {}
    pending, deadline, restarts = list(indices), time.monotonic() + limits.timeout_per_problem, 0
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            results.update({i: _casualty(i, RawRun(ended="problem-timeout"), "problem wall timeout") for i in pending})
            break
        raw = sandbox.run(spec.payload(pending, limits), replace(limits, timeout_per_problem=left), stop)
        load = next((r for r in raw.records if r[0] == "load"), None)
        if load is None or load[1] != "ok":
            fate = _casualty(pending[0], raw) if load is None else dict(
                status=load[1], exc_type=load[2], message=load[3], frames=load[4])
            results.update({i: dict(fate) for i in pending})
            break
        results.update({r[1]: _record(r) for r in raw.records if r[0] == "test"})
        pending = [i for i in pending if i not in results]
        if not pending:
            break
        if raw.ended == "stopped":
            results.update({i: {"status": "skipped", "message": "not run: an earlier test failed"} for i in pending})
            break
        results[pending[0]] = _casualty(pending[0], raw)
        pending, restarts = pending[1:], restarts + 1
        if raw.ended == "problem-timeout" or restarts > MAX_RESTARTS:
            why = "problem wall timeout" if raw.ended == "problem-timeout" else "not run: too many crashes"
            results.update({i: _casualty(i, raw, why, ran=False) for i in pending})
            break
    return results


def _judge(problem, index: int, res: dict, expected: list | None) -> TestResult:
    status, message = res["status"], res.get("message")
    if status == "returned":
        inp = problem.inputs[index] if expected is not None and not getattr(problem, "tests", None) else None
        ok, why = compare.judge(res["encoded"], expected, inp, dataset=getattr(problem, "dataset", ""),
                                entry_point=problem.entry_point, atol=getattr(problem, "atol", 0.0) or 0.0)
        status, message = ("pass", None) if ok else ("fail", why)
    return TestResult(index=index, status=status, exc_type=res.get("exc_type"), message=message,
                      frames=list(res.get("frames") or []), seconds=float(res.get("seconds") or 0.0))


def run_tests(problem, program: str, indices: list[int] | None = None, *, limits: Limits = DEFAULT_LIMITS,
              trace: bool = False, max_trace_lines: int = 256, sandbox: Sandbox | None = None,
              fail_fast: bool = False) -> ProblemResult:
    """Run the selected tests (default: all) of `problem` on `program` in one sandboxed process.

    With `trace=True`, failing/erroring tests are re-run under a line tracer (paper, Stage 2) and get `trace_lines`
    (the last `max_trace_lines` distinct lines) and `trace_events` (the last `max_trace_lines` line events).
    With `fail_fast=True` (a verdict only, as evalplus's default fast_check) the parent judges each output as it
    arrives and ends the run at the first test that does not pass; the tests after it are "skipped".
    """
    indices = list(range(test_count(problem))) if indices is None else list(indices)
    if sandbox is None:
        with default_pool().lease() as sb:
            return run_tests(problem, program, indices, limits=limits, trace=trace,
                             max_trace_lines=max_trace_lines, sandbox=sb, fail_fast=fail_fast)
    kind, specs, expected = _specs(problem, indices)
    spec = _Pass(kind, program, problem.entry_point, specs, False, max_trace_lines)
    judged: dict[int, TestResult] = {}

    def failed(record: list) -> bool:  # judged in the parent as records arrive; kept, so judged once
        if record[0] != "test" or record[1] not in expected:
            return False
        judged[record[1]] = _judge(problem, record[1], _record(record), expected[record[1]])
        return judged[record[1]].status != "pass"

    raw = _run_pass(sandbox, spec, indices, limits, failed if fail_fast else None) if indices else {}
    tests = [judged.get(i) or _judge(problem, i, raw[i], expected[i]) for i in indices]
    # Timeouts with a stack localize by it; one without (stuck outside candidate code) is traced like a failure.
    failing = [t.index for t in tests if t.status in ("fail", "error") or (t.status == "timeout" and not t.frames)]
    if trace and failing:
        traced = _run_pass(sandbox, replace(spec, trace=True), failing, limits)
        for t in tests:
            if t.index in traced and traced[t.index].get("trace_lines") is not None:
                t.trace_lines = traced[t.index]["trace_lines"]
                t.trace_events = traced[t.index].get("trace_events")
    passed = sum(t.status == "pass" for t in tests)
    status = next((t.status for t in tests if t.status != "pass"), "pass")
    return ProblemResult(problem.task_id, status, passed, len(tests), tests)


def reference_outputs(problem, program: str, *, limits: Limits, sandbox: Sandbox) -> tuple[list[list], float]:
    """Expected-output entries from a trusted reference program: ["v", value] | ["d", digest] | ["x", error],
    and the seconds its tests took (a cost hint for scheduling)."""
    spec = _Pass("call", program, problem.entry_point, {i: tuple(x) for i, x in enumerate(problem.inputs)}, False, 1)
    raw = _run_pass(sandbox, spec, list(range(len(problem.inputs))), limits)
    not_none = compare.output_not_none_task(getattr(problem, "dataset", ""), problem.entry_point)
    entries = []
    for i in range(len(problem.inputs)):
        res = raw[i]
        if res["status"] != "returned":
            entries.append(["x", f"{res['status']}: {res.get('exc_type')} {res.get('message')}"])
        elif not_none:  # evalplus keeps only `output is not None` for these tasks
            entries.append(["v", res["encoded"][0] == "d" or compare.codec.loads(res["encoded"][1]) is not None])
        else:
            kind, payload = res["encoded"]
            entries.append(["v", compare.codec.loads(payload)] if kind == "v" else ["d", payload])
    return entries, sum(float(r.get("seconds") or 0.0) for r in raw.values())


# ---- many problems in parallel ----
_DEFAULT: dict[str, SandboxPool] = {}
_DEFAULT_LOCK = threading.Lock()


def default_pool(workers: int = 1) -> SandboxPool:
    """A process-wide pool (created on first use, closed at exit); grows to the largest `workers` asked for."""
    with _DEFAULT_LOCK:
        pool = _DEFAULT.get("pool")
        if pool is None:
            pool = _DEFAULT["pool"] = SandboxPool(workers)
            atexit.register(pool.close)
        pool.size = max(pool.size, workers)
        return pool


def run_many(jobs: list[tuple[Any, str, list[int] | None]], *, workers: int = 2, limits: Limits = DEFAULT_LIMITS,
             trace: bool = False, max_trace_lines: int = 256, progress: bool = True,
             pool: SandboxPool | None = None, fail_fast: bool = False) -> list[ProblemResult]:
    """jobs = [(problem, program, indices or None)]; results in job order; `workers` sandboxes run in parallel."""
    from tqdm import tqdm

    pool = pool or default_pool(workers)

    def one(job):
        problem, program, indices = job
        with pool.lease() as sb:
            return run_tests(problem, program, indices, limits=limits, trace=trace,
                             max_trace_lines=max_trace_lines, sandbox=sb, fail_fast=fail_fast)

    # Longest first (by the reference solution's run time, when known) so one slow problem does not end the run alone.
    order = sorted(range(len(jobs)), key=lambda k: -(getattr(jobs[k][0], "reference_seconds", 0.0) or 0.0))
    results: list[ProblemResult | None] = [None] * len(jobs)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        futures = {ex.submit(one, jobs[k]): k for k in order}
        for fut in tqdm(as_completed(futures), total=len(jobs), disable=not progress, desc="tests"):
            results[futures[fut]] = fut.result()
    return results
