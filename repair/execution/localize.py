"""Stage 2 of trace-guided repair: failing test results + program text -> the lines to remask.

- exception: a failing test raised inside candidate code -> its innermost candidate frame (the candidate line
  closest to the failure) expanded by +-window lines, clipped to the program; union over such tests. A timeout is
  one: the test was stopped (SIGALRM, or the parent's kill after the C-level stack dump) with a stack, and an
  infinite loop, a common bug, sits at its innermost candidate frame;
- syntax: the candidate does not compile -> the line the SyntaxError / IndentationError / TabError reports (the
  runner puts it last in `frames`, as Python's traceback prints `File "<candidate>", line N`), +-window, clipped; a
  line past the end (an error found at end of file) counts as the last line. Its own method so the localization
  figure shows how many repairs it drives (the paper lists syntax errors under the fallback, yet repairs 12.1% of
  them, which only a localized repair can);
- assertion: the code ran but produced a wrong result -> the last `max_trace_lines` (M) executed candidate lines
  before the failure (from the traced re-run); union over the failing tests; a timeout without a candidate frame
  uses its trace the same way. Two readings of "the last M executed lines" (TRACE_READINGS):
  `events` (default): the last M line events in execution order, deduplicated after the cut, so a loop that ran
  many times before the wrong return is what is localized; `distinct`: the last M distinct lines in order of their
  last execution, which for a function shorter than M lines is its whole executed body;
- fallback: nothing usable (no candidate frame, timeout without stack or trace) -> no lines; the caller falls back
  to global low-confidence remasking;
- passed: no failing test.
Pure function: no execution happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("exception", "syntax", "assertion", "fallback", "passed")
LOCALIZED = ("exception", "syntax", "assertion")  # the methods that name lines
TRACE_READINGS = ("events", "distinct")
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
_EXCEPTION_STATUSES = ("error", "crashed", "timeout")
_TRACED_STATUSES = ("fail", "error", "timeout")


@dataclass(frozen=True)
class Localization:
    method: str  # exception | syntax | assertion | fallback | passed
    lines: list[int] = field(default_factory=list)  # 1-based candidate lines, sorted
    tests: list[int] = field(default_factory=list)  # indices of the failing tests the lines come from


def _line_count(program: str) -> int:
    return max(1, len(program.splitlines()))


def _exception_lines(result, window: int, n_lines: int) -> set[int]:
    centre = min(result.frames[-1], n_lines)  # a syntax error at end of file may report the line after the last
    return {k for k in range(centre - window, centre + window + 1) if 1 <= k <= n_lines}


def _trace(result, reading: str) -> list[int] | None:
    return result.trace_events if reading == "events" else result.trace_lines


def _trace_lines(result, max_trace_lines: int, n_lines: int, reading: str) -> set[int]:
    return {k for k in (_trace(result, reading) or [])[-max_trace_lines:] if 1 <= k <= n_lines}


def localize(results: list, program: str, *, window: int = 1, max_trace_lines: int = 20,
             trace_reading: str = "events") -> Localization:
    """`results`: TestResults of the feedback tests (any order); only non-passing ones are used."""
    if trace_reading not in TRACE_READINGS:
        raise ValueError(f"unknown trace reading {trace_reading!r}; known: {TRACE_READINGS}")
    failing = [r for r in results if r.status != "pass"]
    if not failing:
        return Localization("passed")
    n_lines = _line_count(program)
    raised = [r for r in failing if r.status in _EXCEPTION_STATUSES and r.frames]
    if raised:
        lines = set().union(*(_exception_lines(r, window, n_lines) for r in raised))
        method = "syntax" if all(r.exc_type in SYNTAX_ERRORS for r in raised) else "exception"
        return Localization(method, sorted(lines), sorted(r.index for r in raised))
    traced = [r for r in failing if r.status in _TRACED_STATUSES and _trace(r, trace_reading)]
    if traced:
        lines = set().union(*(_trace_lines(r, max_trace_lines, n_lines, trace_reading) for r in traced))
        if lines:
            return Localization("assertion", sorted(lines), sorted(r.index for r in traced))
    return Localization("fallback", [], sorted(r.index for r in failing))
