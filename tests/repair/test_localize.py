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
    loc = localize([t1, t2], PROGRAM, max_trace_lines=3, trace_reading="distinct")
    assert (loc.method, loc.lines, loc.tests) == ("assertion", [1, 2, 8, 9, 10], [0, 1])


def test_event_reading_cuts_m_events_then_deduplicates():
    """Issue 29.2: the default reading is the last M line EVENTS (a loop's lines repeat), deduplicated after the cut;
    the distinct-line reading of the same run reaches back to the function's first lines."""
    events = [1, 2, 3] + [4, 5] * 10 + [6]  # three setup lines, a loop run ten times, the return
    distinct = [1, 2, 3, 4, 5, 6]
    wrong = TestResult(0, "fail", trace_lines=distinct, trace_events=events)
    assert localize([wrong], PROGRAM, max_trace_lines=4).lines == [4, 5, 6]  # events 5, 4, 5, 6
    assert localize([wrong], PROGRAM, max_trace_lines=4) == localize([wrong], PROGRAM, max_trace_lines=4,
                                                                     trace_reading="events")
    assert localize([wrong], PROGRAM, max_trace_lines=4, trace_reading="distinct").lines == [3, 4, 5, 6]
    assert localize([wrong], PROGRAM, max_trace_lines=30).lines == [1, 2, 3, 4, 5, 6]  # 24 events: all
    with pytest.raises(ValueError, match="trace reading"):
        localize([wrong], PROGRAM, trace_reading="lines")


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


def test_end_to_end_wrong_output_after_many_events_localizes_to_the_last_m_events(pool):
    """Issue 29.2: a function that runs more than M line events before it returns a wrong value localizes, under the
    event reading (the default), to its last M events (the loop and the return), not to its first lines."""
    program = ("def f(x):\n"                # 1
               "    a = x\n"                # 2
               "    b = a + 1\n"            # 3
               "    c = b - 1\n"            # 4
               "    total = 0\n"            # 5
               "    for _ in range(30):\n"  # 6
               "        total += c\n"       # 7
               "    return total + 1\n")    # 8  wrong: 30 x + 1
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert res.status == "fail" and all(t.status == "fail" for t in res.tests)
    assert res.tests[0].trace_events[:6] == [2, 3, 4, 5, 6, 7] and res.tests[0].trace_events[-3:] == [7, 6, 8]
    assert len(res.tests[0].trace_events) == 4 + 2 * 30 + 2  # every line event, repeats kept (under the cap)
    assert res.tests[0].trace_lines == [2, 3, 4, 5, 7, 6, 8]  # distinct, in order of last execution
    loc = localize(res.tests, program)  # M = 20 line events
    assert (loc.method, loc.lines, loc.tests) == ("assertion", [6, 7, 8], [0, 1, 2])
    assert localize(res.tests, program, trace_reading="distinct").lines == [2, 3, 4, 5, 6, 7, 8]  # the whole body


def test_the_event_trace_keeps_the_last_events_under_the_cap(pool):
    program = "def f(x):\n    t = 0\n    for i in range(1000):\n        t += i\n    return t\n"
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True, max_trace_lines=50)
    t = res.tests[0]
    assert len(t.trace_events) == 50 and t.trace_events[-3:] == [4, 3, 5] and t.trace_lines == [2, 4, 3, 5]


@pytest.mark.parametrize("program,line", [
    ("def f(x):\n    y = x\n    z = (y +\n    w = 2\n    return z\n", 3),  # '(' never closed: its line
    ("def f(x):\n    y = x * 2\n    if y > 1\n        y = 0\n    return y\n", 3),  # expected ':'
    ("def f(x):\n    y = x\n      z = y\n    return z\n", 3),  # IndentationError: unexpected indent
    ("def f(x):\n    y = x\n    return y\n  q = 1\n", 4),  # IndentationError: unindent does not match
    ("def f(x):\n    y = 2 * x\n    for i in range(3):\n", 3),  # IndentationError at end of file
])
def test_end_to_end_syntax_error_on_line_k_localizes_to_k_plus_minus_w(pool, program, line):
    """Issue 29.1: a candidate that does not compile has no frame, but the error names its line: k +- w, clipped,
    its own method 'syntax' (before: always the global fallback)."""
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert all(t.exc_type in ("SyntaxError", "IndentationError") and t.frames == [line] for t in res.tests)
    n = len(program.splitlines())
    for w in (1, 2):
        loc = localize(res.tests, program, window=w)
        assert (loc.method, loc.lines, loc.tests) == ("syntax", [k for k in range(line - w, line + w + 1) if k <= n],
                                                      [0, 1, 2])


def test_syntax_error_past_the_end_and_syntax_errors_of_other_sources():
    """A line after the last (an error found at end of file) is the last line; a SyntaxError raised at run time by
    code the candidate evaluates (literal_eval of a bad string) localizes by the candidate's frame."""
    loc = localize([TestResult(0, "error", "SyntaxError", "unexpected EOF", frames=[11])], PROGRAM)
    assert (loc.method, loc.lines) == ("syntax", [9, 10])
    mixed = [TestResult(0, "error", "SyntaxError", frames=[3]), TestResult(1, "error", "KeyError", frames=[7])]
    assert localize(mixed, PROGRAM).method == "exception"


def test_runtime_syntax_error_keeps_the_candidate_frame(pool):
    program = "import ast\ndef f(x):\n    y = x\n    return ast.literal_eval('1 +')\n"
    with pool.lease() as sb:
        res = run_tests(TOY, program, limits=LIMITS, sandbox=sb, trace=True)
    assert res.tests[0].exc_type == "SyntaxError" and res.tests[0].frames == [4]  # no line of the '<unknown>' source
    assert localize(res.tests, program).lines == [3, 4]


def test_timeout_localizes_by_its_stack_then_its_trace():
    """A timed-out test has a stack: its innermost candidate frame localizes like an exception's, not the fallback."""
    loc = localize([TestResult(0, "timeout", frames=[2, 5]), TestResult(1, "fail", trace_lines=[9])], PROGRAM)
    assert (loc.method, loc.lines, loc.tests) == ("exception", [4, 5, 6], [0])
    stuck = TestResult(0, "timeout", trace_lines=[3, 4, 7], trace_events=[3, 4, 3, 4, 7])
    for reading in ("events", "distinct"):
        loc = localize([stuck], PROGRAM, max_trace_lines=2, trace_reading=reading)
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
