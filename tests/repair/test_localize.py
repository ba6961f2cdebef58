"""Localization (paper Stage 2) on hand-made bugs: pure cases and end to end through the sandbox."""

from __future__ import annotations

import pytest

from data.problems import Problem
from repair.execution import Limits, SandboxPool, TestResult, localize, run_tests

LIMITS = Limits(timeout_per_test=1.0, timeout_per_problem=5.0, grace=1.0)
PROGRAM = "\n".join(f"x{k} = {k}" for k in range(1, 11)) + "\n"  # 10 lines


TOY = Problem(task_id="toy/f", prompt="", entry_point="f", inputs=[[1], [2], [5]],
              expected=[["v", 2], ["v", 4], ["v", 10]])


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(1) as p:
        yield p


def test_exception_window_and_clipping():
    err = TestResult(0, "error", "ValueError", "bad", frames=[2, 5])
    assert localize([err], PROGRAM) == localize([err], PROGRAM, window=1)
    loc = localize([err], PROGRAM)
    assert (loc.method, loc.lines, loc.tests) == ("exception", [4, 5, 6], [0])
    assert localize([TestResult(0, "error", frames=[10])], PROGRAM).lines == [9, 10]
    assert localize([TestResult(0, "error", frames=[1])], PROGRAM, window=5).lines == [1, 2, 3, 4, 5, 6]


def test_union_over_failing_tests_and_priority():
    a = TestResult(0, "error", frames=[2])
    b = TestResult(3, "crashed", frames=[8])
    wrong = TestResult(1, "fail", trace_lines=[1, 2, 3])
    loc = localize([a, wrong, b, TestResult(2, "pass")], PROGRAM)
    assert (loc.method, loc.lines, loc.tests) == ("exception", [1, 2, 3, 7, 8, 9], [0, 3])


def test_assertion_takes_last_m_trace_lines():
    t1 = TestResult(0, "fail", trace_lines=list(range(1, 11)))
    t2 = TestResult(1, "fail", trace_lines=[1, 2])
    loc = localize([t1, t2], PROGRAM, max_trace_lines=3)
    assert (loc.method, loc.lines, loc.tests) == ("assertion", [1, 2, 8, 9, 10], [0, 1])


def test_fallback_and_passed():
    assert localize([TestResult(0, "pass")], PROGRAM).method == "passed"
    assert localize([], PROGRAM).method == "passed"
    for r in (TestResult(0, "timeout"), TestResult(0, "error", "SyntaxError"), TestResult(0, "fail")):
        loc = localize([r], PROGRAM)
        assert (loc.method, loc.lines, loc.tests) == ("fallback", [], [0])


def test_end_to_end_exception_in_line_k(pool):
    program = "def f(x):\n    y = x * 2\n    z = y - 4\n    return y // z\n"  # line 4 divides by zero for x == 2
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert [t.status for t in res.tests] == ["fail", "error", "fail"]
    assert res.tests[1].frames == [4]
    loc = localize(res.tests, program)  # exception wins over the wrong outputs; window clipped to 4 lines
    assert (loc.method, loc.lines, loc.tests) == ("exception", [3, 4], [1])


def test_end_to_end_wrong_output_uses_the_trace(pool):
    program = ("def f(x):\n"            # 1
               "    total = 0\n"        # 2
               "    if x > 100:\n"      # 3
               "        total = 1\n"    # 4  never runs
               "    for _ in range(x):\n"  # 5
               "        total += 3\n"   # 6  bug: should be 2
               "    return total\n")    # 7
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert res.status == "fail"
    loc = localize(res.tests, program, max_trace_lines=20)
    assert loc.method == "assertion" and loc.lines == [2, 3, 5, 6, 7] and loc.tests == [0, 1, 2]


def test_end_to_end_syntax_error_falls_back(pool):
    with pool.lease() as sb:
        res = run_tests(TOY, "def f(x)\n    return x\n", limits=LIMITS, sandbox=sb, trace=True)
    assert res.tests[0].exc_type == "SyntaxError"
    assert localize(res.tests, "def f(x)\n    return x\n").method == "fallback"


def test_timeout_localizes_by_its_stack_then_its_trace():
    """A timed-out test has a stack: its innermost candidate frame localizes like an exception's, not the fallback."""
    loc = localize([TestResult(0, "timeout", frames=[2, 5]), TestResult(1, "fail", trace_lines=[9])], PROGRAM)
    assert (loc.method, loc.lines, loc.tests) == ("exception", [4, 5, 6], [0])
    loc = localize([TestResult(0, "timeout", trace_lines=[3, 4, 7])], PROGRAM, max_trace_lines=2)
    assert (loc.method, loc.lines, loc.tests) == ("assertion", [4, 7], [0])


@pytest.mark.parametrize("hang,line", [
    ("        y += 1\n", 4),  # a Python loop: SIGALRM interrupts it, the traceback has its frame
    ("        y = sum(range(10**12))\n", 4),  # stuck in C: the stack dumped on SIGALRM before the parent's kill
])
def test_end_to_end_timeout_localizes_to_its_innermost_frame(pool, hang, line):
    program = ("def f(x):\n"           # 1
               "    y = 0\n"           # 2
               "    while x == 2:\n"   # 3  the infinite loop for x == 2
               + hang +                # 4
               "    return 2 * x\n")   # 5
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert [t.status for t in res.tests] == ["pass", "timeout", "pass"]
    assert res.tests[1].frames[-1] in (3, line)
    loc = localize(res.tests, program)
    assert loc.method == "exception" and loc.tests == [1]
    assert line in loc.lines and set(loc.lines) <= {2, 3, 4, 5}


def test_only_the_last_stack_dump_counts():
    from repair.execution.execution import _dumped_frames

    out = (b'Stack (most recent call first):\n  File "<candidate>", line 9 in g\n  File "<candidate>", line 2 in f\n'
           b'printed\nStack (most recent call first):\n  File "<candidate>", line 4 in f\n  File "<test>", line 1\n')
    assert _dumped_frames(out) == [4] and _dumped_frames(b"no dump") == []
