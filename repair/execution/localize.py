"""Stage 2 of trace-guided repair: failing test results + program text -> the lines to remask.

- exception: a failing test raised inside candidate code -> its innermost candidate frame (the candidate line
  closest to the failure) expanded by +-window lines, clipped to the program; union over such tests. A timeout is
  one: the test was stopped (SIGALRM, or the parent's kill after the C-level stack dump) with a stack, and an
  infinite loop, a common bug, sits at its innermost candidate frame;
- assertion: the code ran but produced a wrong result -> the last `max_trace_lines` distinct candidate lines
  executed before the failure (from the traced re-run); union over the failing tests; a timeout without a candidate
  frame uses its trace the same way;
- fallback: nothing usable (syntax error, no candidate frame, timeout without stack or trace) -> no lines; the
  caller falls back to global low-confidence remasking;
- passed: no failing test.
Pure function: no execution happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("exception", "assertion", "fallback", "passed")
_EXCEPTION_STATUSES = ("error", "crashed", "timeout")
_TRACED_STATUSES = ("fail", "error", "timeout")


@dataclass(frozen=True)
class Localization:
    method: str  # exception | assertion | fallback | passed
    lines: list[int] = field(default_factory=list)  # 1-based candidate lines, sorted
    tests: list[int] = field(default_factory=list)  # indices of the failing tests the lines come from


def _line_count(program: str) -> int:
    return max(1, len(program.splitlines()))


def _exception_lines(result, window: int, n_lines: int) -> set[int]:
    centre = result.frames[-1]
    return {k for k in range(centre - window, centre + window + 1) if 1 <= k <= n_lines}


def _trace_lines(result, max_trace_lines: int, n_lines: int) -> set[int]:
    return {k for k in result.trace_lines[-max_trace_lines:] if 1 <= k <= n_lines}


def localize(results: list, program: str, *, window: int = 1, max_trace_lines: int = 20) -> Localization:
    """`results`: TestResults of the feedback tests (any order); only non-passing ones are used."""
    failing = [r for r in results if r.status != "pass"]
    if not failing:
        return Localization("passed")
    n_lines = _line_count(program)
    raised = [r for r in failing if r.status in _EXCEPTION_STATUSES and r.frames]
    if raised:
        lines = set().union(*(_exception_lines(r, window, n_lines) for r in raised))
        return Localization("exception", sorted(lines), sorted(r.index for r in raised))
    traced = [r for r in failing if r.status in _TRACED_STATUSES and r.trace_lines]
    if traced:
        lines = set().union(*(_trace_lines(r, max_trace_lines, n_lines) for r in traced))
        if lines:
            return Localization("assertion", sorted(lines), sorted(r.index for r in traced))
    return Localization("fallback", [], sorted(r.index for r in failing))
