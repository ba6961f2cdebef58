"""Runs inside the sandboxed child: load the candidate once, run the requested tests, report each on the result fd.

Every record is one line `<token> <json>` on a pipe only the harness reads; stdout/stderr go elsewhere, so
printing a fake verdict, exiting early or killing the process can only lose tests, never pass them. Outputs of
function-call tests are encoded (codec) and compared by the parent, never here.

Stdlib only; loaded by file path into the zygote (no package import, nothing heavy).
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time
from collections import deque

CANDIDATE = "<candidate>"
TEST_FILE = "<test>"


class TestTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so `except Exception` in the candidate does not swallow it."""


class _CappedStream:
    """Python-level stdout/stderr: the first `cap` bytes reach the fd, the rest is dropped without a syscall."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.left = fd, cap

    def write(self, s) -> int:
        text = str(s)
        if self.left > 0:
            data = text.encode("utf-8", "replace")[: self.left]
            self.left -= len(data)
            try:
                os.write(self.fd, data)
            except OSError:
                self.left = 0
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _writer(fd: int, token: str):
    def emit(*record) -> None:
        data = (token + " " + json.dumps(record, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    return emit


def _frames(tb) -> list[int]:
    lines = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CANDIDATE:
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return lines  # outermost first, innermost last


def _describe(exc: BaseException) -> tuple[str, str, list[int]]:
    try:
        message = str(exc)[:1000]
    except BaseException:  # noqa: B036  (hostile __str__)
        message = "<unprintable>"
    frames = _frames(exc.__traceback__)
    # A syntax error in the candidate is raised by compile(), which runs here, not in candidate code: no frame of the
    # candidate, but the error carries its own location (Python prints it as `File "<candidate>", line N`), the
    # innermost candidate line there is. Errors of other sources (eval of a string, literal_eval) keep their frames.
    if isinstance(exc, SyntaxError) and exc.filename == CANDIDATE and isinstance(exc.lineno, int):
        frames.append(exc.lineno)
    return type(exc).__name__, message, frames


class _Tracer:
    """sys.settrace hook that only follows frames of the candidate file. Keeps both readings of "the last executed
    lines": `events`, the last `cap` line events in execution order (a loop's line once per iteration), and `lines`,
    the last `cap` distinct lines in order of their last execution."""

    def __init__(self, cap: int):
        self.cap, self.lines, self.events = cap, {}, deque(maxlen=cap)

    def global_hook(self, frame, event, arg):
        return self.local_hook if frame.f_code.co_filename == CANDIDATE else None

    def local_hook(self, frame, event, arg):
        if event == "line":
            lines = self.lines
            lines.pop(frame.f_lineno, None)
            lines[frame.f_lineno] = None
            if len(lines) > self.cap:
                del lines[next(iter(lines))]
            self.events.append(frame.f_lineno)
        return self.local_hook


def _alarm(signum, frame):
    raise TestTimeout()


def _timed(fn, timeout: float, tracer: _Tracer | None):
    signal.setitimer(signal.ITIMER_REAL, timeout)
    if tracer is not None:
        sys.settrace(tracer.global_hook)
    try:
        return fn()
    finally:
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)


def _call_test(namespace: dict, spec, entry_point: str):
    fn = namespace[entry_point]
    return lambda: fn(*spec)


def _assert_test(namespace: dict, spec, entry_point: str):
    kind, source = spec
    code = compile(source, TEST_FILE, "eval" if kind == "expr" else "exec")
    return lambda: eval(code, namespace)  # noqa: S307  (the sandbox is the point)


_TEST_BUILDERS = {"call": _call_test, "assert": _assert_test}


class OutputTooLarge(Exception):
    """More nodes than even the digest budget: judged as an error instead of hashing for minutes."""


def _encode(value, codec, max_items: int, max_digest_items: int) -> list:
    # Sized first (cheap): an output too big even for a digest used to be hashed for seconds before giving up.
    size = 1 if type(value) in _SCALARS else codec.count_nodes(value, max_digest_items)
    if size > max_digest_items:
        raise OutputTooLarge(f"output has more than {max_digest_items} items")
    if size <= max_items:
        try:
            return ["v", codec.dumps(value, max_items)]
        except codec.TooBig:
            pass
    try:
        return ["d", codec.digest(value, max_digest_items)]
    except codec.TooBig:
        raise OutputTooLarge(f"output has more than {max_digest_items} items") from None


_SCALARS = (int, float, str, bool, type(None))


def _run_one(emit, codec, namespace, payload, index, spec) -> None:
    tracer = _Tracer(payload["trace_cap"]) if payload["trace"] else None
    kind = payload["kind"]
    started = time.perf_counter()
    try:
        thunk = _TEST_BUILDERS[kind](namespace, spec, payload["entry_point"])
        value = _timed(thunk, payload["timeout"], tracer)
        if kind == "call" or spec[0] == "expr":
            encoded = _encode(value, codec, payload["max_items"], payload["max_digest_items"])
            status, exc = "returned", None
        else:
            status, exc, encoded = "pass", None, None
    except TestTimeout as e:  # keep its frames: where the candidate was when time ran out
        status, exc, encoded = "timeout", e, None
    except AssertionError as e:
        status, exc, encoded = ("fail" if kind == "assert" else "error"), e, None
    except BaseException as e:  # noqa: B036  (SystemExit, KeyboardInterrupt... all count as errors)
        status, exc, encoded = "error", e, None
    seconds = time.perf_counter() - started
    exc_type, message, frames = _describe(exc) if exc is not None else (None, None, [])
    trace = list(tracer.lines) if tracer is not None else None
    events = list(tracer.events) if tracer is not None else None
    emit("test", index, status, exc_type, message, frames, trace, seconds, encoded, events)


def run(payload: dict, result_fd: int, codec) -> None:
    """Entry point in the child: `payload` comes from the parent (trusted), `codec` is the loaded codec module."""
    emit = _writer(result_fd, payload["token"])
    emit("start")  # the parent's per-test clock starts here, not at fork time
    err = sys.__stderr__ or open(2, "w", closefd=False)
    faulthandler.enable(file=err)
    sys.stdout = _CappedStream(1, payload["output_cap"])
    sys.stderr = _CappedStream(2, payload["output_cap"])
    signal.signal(signal.SIGALRM, _alarm)
    # When time runs out, dump the stack at once from the C-level handler, then chain to _alarm: a test stuck in C
    # code (which never reaches the Python handler before the parent kills it) still leaves its innermost candidate
    # frame in the output, so a timeout localizes like an exception. Free per test (no watchdog thread).
    faulthandler.register(signal.SIGALRM, file=err, all_threads=False, chain=True)
    namespace = {"__name__": "__candidate__"}
    try:
        code = compile(payload["program"], CANDIDATE, "exec")
        _timed(lambda: exec(code, namespace), payload["timeout"], None)  # noqa: S102
        if payload["kind"] == "call" and not callable(namespace.get(payload["entry_point"])):
            raise NameError(f"entry point {payload['entry_point']!r} is not defined")
    except TestTimeout:
        emit("load", "timeout", "TimeoutError", "program load timed out", [])
        return
    except BaseException as e:  # noqa: B036
        emit("load", "error", *_describe(e))
        return
    emit("load", "ok", None, None, [])
    for index, spec in payload["tests"]:
        _run_one(emit, codec, namespace, payload, index, spec)
    emit("done")
