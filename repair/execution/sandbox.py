"""Parent side of the sandbox: start fork servers, hand them one problem at a time, enforce the wall clock.

A `Sandbox` owns one zygote (repair/execution/zygote.py). `run` sends it a payload, then watches two pipes with
deadlines: the result channel (records prefixed with a per-run random token; everything else is ignored) and the
merged stdout/stderr (kept up to 64 KiB, the rest drained and dropped). When a deadline passes, when the result
channel overflows, or when the run ends, every process of the run (found as repair/execution/procs.py says) is
SIGKILLed, process groups first, so nothing of a run survives it. Isolation (network/pid/mount namespaces, read-only filesystem,
dropped capabilities) is detected when the zygote starts and reported as it is, never assumed.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import secrets
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import psutil

from repair.execution import procs

ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")
NAMESPACE_FLAGS = ("--net", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child")
GiB = 1 << 30
SETUP_SECONDS = 5.0


@dataclass(frozen=True)
class Limits:
    timeout_per_test: float = 5.0
    timeout_per_problem: float = 30.0
    memory_bytes: int = 4 * GiB
    file_size_bytes: int = 64 << 20
    output_bytes: int = 64 << 10
    result_bytes: int = 256 << 20
    grace: float = 1.0  # the parent's per-test watchdog fires this long after the child's own SIGALRM

    def rlimits(self) -> dict[str, int]:
        return {
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_CPU": int(self.timeout_per_problem) + 2,
            "RLIMIT_FSIZE": self.file_size_bytes,
            "RLIMIT_CORE": 0,
        }


@dataclass(frozen=True)
class Isolation:
    network: bool
    pid: bool
    filesystem: bool
    capabilities: bool
    detail: str = ""
    process_limit: bool = False  # a pids cgroup caps the number of processes (root ignores RLIMIT_NPROC)

    @property
    def active(self) -> bool:
        return self.network and self.pid and self.filesystem and self.capabilities

    def describe(self) -> str:
        keys = ("network", "pid", "filesystem", "capabilities", "process_limit")
        parts = [f"{k}={'on' if getattr(self, k) else 'OFF'}" for k in keys]
        return "sandbox isolation: " + " ".join(parts) + (f" ({self.detail})" if self.detail else "")


@dataclass
class RawRun:
    """What one child run delivered: verified records, captured output, and why it ended."""

    records: list = field(default_factory=list)
    output: bytes = b""
    ended: str = "done"  # done | exit | test-timeout | problem-timeout | overflow | stopped
    seconds: float = 0.0


@lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """Probe once whether `unshare` can give us fresh net/mount/pid namespaces (root on Linux)."""
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        proc = subprocess.run([exe, *NAMESPACE_FLAGS, "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def child_env() -> dict[str, str]:
    """The scrubbed environment every candidate sees: no secrets, single-threaded numeric libraries."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    return env


class Sandbox:
    """One fork server; not thread-safe (use a SandboxPool to share between threads)."""

    def __init__(self, isolate: bool | None = None, max_processes: int = 512):
        self.isolate = namespaces_available() if isolate is None else isolate
        self.max_processes = max_processes
        self.isolation: Isolation | None = None
        self._proc: subprocess.Popen | None = None
        self._cgroup: str | None = None
        self._group: int | None = None
        self._start()

    # ---- lifecycle ----
    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        cmd = [sys.executable, "-I", ZYGOTE, str(theirs.fileno()), "1" if self.isolate else "0"]
        if self.isolate:
            cmd = [shutil.which("unshare"), *NAMESPACE_FLAGS, *cmd]
        self._proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=child_env(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._sock, self._reader = ours, ours.makefile("rb")
        hello = self._reader.readline()
        if not hello:
            raise RuntimeError("sandbox fork server failed to start")
        self._root = self._zygote_process()
        self._cgroup = procs.create_pids_cgroup(self._root.pid, self.max_processes)
        self.isolation = Isolation(**json.loads(hello)["isolation"], process_limit=self._cgroup is not None)

    def _zygote_process(self) -> psutil.Process:
        proc = psutil.Process(self._proc.pid)
        if not self.isolate:
            return proc
        for _ in range(200):  # `unshare --fork` runs the zygote as its only child
            kids = proc.children()
            if kids:
                return kids[0]
            time.sleep(0.01)
        raise RuntimeError("sandbox fork server not found under unshare")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._root.is_running()

    def close(self) -> None:
        if self._proc is None:
            return
        self.sweep()
        self._sock.close()
        self._reader.close()
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()
        self._proc = None
        procs.remove_cgroup(self._cgroup)
        self._cgroup = None

    def leftovers(self) -> list[int]:
        """Pids of every live process a run left behind (see procs.sandbox_processes for how they are found)."""
        return procs.sandbox_processes(self._root.pid, self.isolation is not None and self.isolation.pid, self._cgroup)

    def sweep(self) -> None:
        """SIGKILL every process a run left behind (whole groups first) until none is left."""
        own = {os.getpgid(0), self._proc.pid}
        if self._group is not None:
            try:
                os.killpg(self._group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._group = None
        for _ in range(100):
            if not self._root.is_running():
                return
            pids = self.leftovers()
            if not pids:
                return
            for pid in pids:
                try:
                    pgid = os.getpgid(pid)
                    if pgid not in own:
                        os.killpg(pgid, signal.SIGKILL)
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            procs.wait_dead(pids, timeout=0.5)
        raise RuntimeError("sandbox sweep could not terminate the candidate's processes")

    # ---- one run ----
    def _deliver(self, data: bytes, res_w: int, out_w: int) -> RawRun | None:
        """Hand the payload and the write ends to the zygote; a RawRun if the zygote turned out to be dead."""
        try:
            try:
                socket.send_fds(self._sock, [struct.pack("!Q", len(data))], [res_w, out_w])
            finally:
                os.close(res_w)
                os.close(out_w)
            self._sock.sendall(data)
            reply = self._reader.readline()
            if reply:
                # Without a pid namespace the reported pid is a host pid: remember the group, in case the
                # candidate kills the zygote and its orphans escape the sweep below it.
                self._group = None if self.isolation.pid else json.loads(reply)["pid"]
                return None
        except OSError:
            pass
        # Only possible without a pid namespace (there the zygote is an unkillable pid 1); restarted next run.
        self._proc.kill()
        return RawRun(ended="exit", output=b"sandbox fork server died")

    def run(self, payload: dict, limits: Limits, stop: Callable[[list], bool] | None = None) -> RawRun:
        """One child run; `stop(record)` (optional, trusted parent code) may end it early (ended = "stopped")."""
        if not self.alive():
            self.close()
            self._start()
        token = secrets.token_hex(16)
        workdir = None if self.isolation.filesystem else tempfile.mkdtemp(prefix="diffucode-run-")
        body = dict(payload, token=token, workdir=workdir, rlimits=limits.rlimits(), output_cap=limits.output_bytes)
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        started = time.monotonic()
        try:
            raw = self._deliver(pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL), res_w, out_w)
            if raw is None:
                raw = _watch(res_r, out_r, token, limits, started, stop)
        finally:
            self.sweep()
            for fd in (res_r, out_r):
                os.close(fd)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
        raw.seconds = time.monotonic() - started
        return raw


def _watch(res_r: int, out_r: int, token: str, limits: Limits, started: float,
           stop: Callable[[list], bool] | None = None) -> RawRun:
    """Read both pipes until the result channel closes or a deadline passes."""
    raw, prefix = RawRun(), token.encode() + b" "
    buf, total, out = b"", 0, bytearray()
    last = started
    sel = selectors.DefaultSelector()
    sel.register(res_r, selectors.EVENT_READ, "res")
    sel.register(out_r, selectors.EVENT_READ, "out")
    res_open = True
    while res_open:
        now = time.monotonic()
        if now - started > limits.timeout_per_problem:
            raw.ended = "problem-timeout"
            break
        # Until the child's first record (sent right after its setup) a loaded machine gets extra time to fork.
        allowed = limits.timeout_per_test + limits.grace + (0.0 if raw.records else SETUP_SECONDS)
        if now - last > allowed:
            raw.ended = "test-timeout"
            break
        wait = min(started + limits.timeout_per_problem, last + allowed) - now
        for key, _ in sel.select(timeout=max(wait, 0.0)):
            chunk = os.read(key.fd, 1 << 16)
            if not chunk:
                sel.unregister(key.fd)
                # The run is over once its result channel closes (output still buffered is dropped).
                res_open = res_open and key.data != "res"
                continue
            if key.data == "out":
                out += chunk[: max(0, limits.output_bytes - len(out))]
                continue
            total += len(chunk)
            if total > limits.result_bytes:
                raw.ended = "overflow"
                return _finish(raw, out, sel)
            lines = (buf + chunk).split(b"\n")
            buf = lines.pop()
            fresh = [_parse(line, prefix) for line in lines]
            fresh = [r for r in fresh if r is not None]
            for k, record in enumerate(fresh):
                if stop is not None and stop(record):  # records after it (same chunk) are dropped: deterministic
                    raw.records.extend(fresh[: k + 1])
                    raw.ended = "stopped"
                    return _finish(raw, out, sel)
            raw.records.extend(fresh)
            if fresh:
                last = time.monotonic()
                if _final(fresh[-1]):
                    # Stop here: a grandchild still holding the pipe open must not stretch the run.
                    raw.ended = "done"
                    return _finish(raw, out, sel)
    else:
        raw.ended = "done" if raw.records and raw.records[-1][0] == "done" else "exit"
    return _finish(raw, out, sel)


def _finish(raw: RawRun, out: bytearray, sel: selectors.BaseSelector) -> RawRun:
    sel.close()
    raw.output = bytes(out)
    return raw


def _final(record: list) -> bool:
    return record[0] == "done" or (record[0] == "load" and record[1] != "ok")


def _parse(line: bytes, prefix: bytes):
    if not line.startswith(prefix):
        return None  # not written by our runner (or by a candidate without the token)
    try:
        record = json.loads(line[len(prefix):])
    except ValueError:
        return None
    return record if isinstance(record, list) and record else None


class SandboxPool:
    """N sandboxes shared by threads: `with pool.lease() as sb: sb.run(...)`."""

    def __init__(self, workers: int = 1, isolate: bool | None = None):
        self.size = max(1, workers)
        self._free: queue.Queue[Sandbox] = queue.Queue()
        self._all: list[Sandbox] = []
        self._lock = threading.Lock()
        self._isolate = isolate

    def _get(self) -> Sandbox:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self.size:
                sb = Sandbox(self._isolate)
                self._all.append(sb)
                return sb
        return self._free.get()

    def lease(self):
        pool = self

        class _Lease:
            def __enter__(self_inner) -> Sandbox:
                self_inner.sb = pool._get()
                return self_inner.sb

            def __exit__(self_inner, *exc) -> None:
                pool._free.put(self_inner.sb)

        return _Lease()

    def isolation(self) -> Isolation:
        with self.lease() as sb:
            return sb.isolation

    def close(self) -> None:
        for sb in self._all:
            sb.close()
        self._all.clear()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
