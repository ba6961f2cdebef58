"""User mistakes get one clear line, not a traceback: the exception type and the `__main__` wrapper of every entry point.

    if __name__ == "__main__":
        run_cli(main)

`main` raises `UsageError("what is wrong, where, how to fix it")` for bad input (an option, a path, a config key, a
data row); `run_cli` prints it as one line on stderr and exits with status 2. Anything else is our bug and keeps its
traceback. `--debug` on the command line (removed before `main` parses it) or DIFFUCODE_DEBUG=1 re-raises usage
errors too, traceback included.

Under a multi-rank launcher (deepspeed, torchrun: RANK is set) every rank usually meets the same mistake; rank 0
reports it and the others stay silent for a grace period, in which the launcher, seeing rank 0 exit, stops them. A
mistake only a non-zero rank meets is reported by that rank, prefixed with its number, after the grace period.

This module lives in the lowest foundation (data/) and imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
EXIT_USAGE = 2  # argparse's status for a bad command line; ours for every other bad input
DEBUG_ENV = "DIFFUCODE_DEBUG"
DEBUG_FLAG = "--debug"
RANK_GRACE_SECONDS = 120.0  # how long a non-zero rank waits for rank 0 to report the same mistake (slow imports)


class UsageError(ValueError):
    """Bad input from the user (option, path, config key, data row). `label` starts the printed line.

    A ValueError, as the checks it replaces raised, so library callers catching those keep working."""

    label = "error"


def _rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def note(message: str) -> None:
    """A one-line remark on stderr (e.g. an option clamped to fit another), from rank 0 only."""
    if _rank() == 0:
        print(f"note: {message}", file=sys.stderr, flush=True)


def debug_requested(argv: list[str]) -> bool:
    """Whether --debug is on the command line (it is removed from argv) or DIFFUCODE_DEBUG is set to a true value."""
    flag = DEBUG_FLAG in argv
    while DEBUG_FLAG in argv:
        argv.remove(DEBUG_FLAG)
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def report(error: UsageError) -> None:
    """Print the one line (rank 0 at once; another rank only if the launcher has not stopped it meanwhile)."""
    rank = _rank()
    prefix = ""
    if rank != 0:
        time.sleep(RANK_GRACE_SECONDS)
        prefix = f"[rank {rank}] "
    message = " ".join(str(error).split("\n"))  # one line, whatever the message holds
    print(f"{prefix}{error.label}: {message}", file=sys.stderr, flush=True)


def run_cli(main: Callable[[], T]) -> T:
    """Run an entry point's main: a UsageError becomes one line on stderr and exit status 2."""
    debug = debug_requested(sys.argv)
    try:
        return main()
    except UsageError as e:
        if debug:
            raise
        report(e)
        sys.exit(EXIT_USAGE)


def check_options(args, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = ()) -> None:
    """argparse options that must be >= 1 / >= 0 (unset, None, is fine); the message spells them as typed."""
    for names, low in ((positive, 1), (non_negative, 0)):
        for name in names:
            value = getattr(args, name)
            if value is not None and value < low:
                raise UsageError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")


def number_list(text: str, option: str, kind: type = int) -> list:
    """A comma-separated option ("0,1,2"), refused with its rule when an item is not a number or it is empty."""
    try:
        values = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated {kind.__name__}s, got {text!r}") from None
    if not values:
        raise UsageError(f"{option} is empty; give at least one {kind.__name__}")
    return values
