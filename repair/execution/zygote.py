"""Fork server for sandboxed runs: `python -I zygote.py <socket-fd> <isolated 0|1>`.

Started once per worker slot (optionally inside `unshare --net --mount --pid --fork --mount-proc`), it imports the
runner once and forks a fresh child per problem, so a run costs a fork instead of an interpreter start. In isolated
mode it is pid 1 of its own pid namespace: every process a candidate starts lives in that namespace, cannot see or
signal anything outside it, and dies with it. The filesystem is remounted read-only and each child gets private
tmpfs mounts on /tmp, /var/tmp and /dev/shm that vanish with its mount namespace.

Protocol (stream socket): request = 8-byte length with two fds attached (result pipe, output pipe) + pickled payload;
reply = one JSON line {"pid": ...}. First line sent after start: {"isolation": {...}}.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import pickle
import resource
import signal
import socket
import stat
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
CLONE_NEWNS = 0x00020000
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 4, 36, 24, 38
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
_libc = ctypes.CDLL(None, use_errno=True)


def _load(name: str):
    # Loaded by path under a private name: the candidate's `import runner` must not find our modules.
    spec = importlib.util.spec_from_file_location(f"_diffucode_sandbox_{name}", os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _prctl(option: int, arg: int) -> int:
    zero = ctypes.c_ulong(0)
    return _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), zero, zero, zero)


def _minimal_dev() -> None:
    # A raw disk node is writable by (capability-less) root even on a read-only mount: give /dev only harmless nodes.
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        os.mknod(f"/dev/{name}", 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(f"/dev/{name}", 0o666)
    os.mkdir("/dev/shm", 0o1777)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{name}")


def _remount_all_readonly() -> None:
    keep = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
    with open("/proc/self/mountinfo") as f:
        entries = [line.split() for line in f]
    for fields in entries:
        target = fields[4].replace("\\040", " ")
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for opt in fields[5].split(","):
            flags |= keep.get(opt, 0)
        try:
            _mount(None, target, None, flags)
        except OSError:
            pass  # shadowed mounts (e.g. the old /dev/pts under our /dev) are unreachable anyway


def setup_filesystem() -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _minimal_dev()
    _remount_all_readonly()
    with open("/proc/self/mountinfo") as f:  # verify instead of assuming
        root = next(line.split() for line in f if line.split()[4] == "/")
    if "ro" not in root[5].split(","):
        raise OSError("root filesystem is still writable")


def drop_capabilities() -> None:
    if os.geteuid() != 0:
        return
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    for cap in range(64):
        _prctl(PR_CAPBSET_DROP, cap)  # EINVAL past the last capability: fine
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(_libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")


def _probe(fn) -> bool:
    """Run fn in a throwaway child: report honestly whether the child-side setup works here."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:  # noqa: B036
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _private_tmp() -> None:
    _check(_libc.unshare(ctypes.c_int(CLONE_NEWNS)), "unshare(CLONE_NEWNS)")
    for path in PRIVATE_TMPFS:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m")


def _set_limits(limits: dict) -> None:
    for name, value in limits.items():
        which = getattr(resource, name)
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # never above the existing hard limit
        soft = value if name != "RLIMIT_CPU" else max(1, value - 1)  # SIGXCPU first, then the hard kill
        resource.setrlimit(which, (soft, value))


def _child(payload: dict, fds: list[int], sock: socket.socket, iso: dict, codec, runner) -> None:
    try:
        sock.close()
        result_fd, out_fd = fds
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if result_fd != 3:
            os.dup2(result_fd, 3)
        os.closerange(4, 1 << 16)
        if iso["filesystem"]:
            _private_tmp()
            workdir = "/tmp/work"
            os.mkdir(workdir, 0o700)
        else:
            workdir = payload["workdir"]
        os.chdir(workdir)
        os.environ.update(HOME=workdir, TMPDIR=workdir)
        _set_limits(payload["rlimits"])
        if iso["capabilities"]:
            drop_capabilities()
        runner.run(payload, 3, codec)
    finally:
        os._exit(0)


def _recv_request(sock: socket.socket):
    head, fds, _flags, _addr = socket.recv_fds(sock, 8, 2)
    while head and len(head) < 8:
        head += sock.recv(8 - len(head))
    if len(head) < 8:
        return None, []
    (size,) = struct.unpack("!Q", head)
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None, fds
        chunks.append(chunk)
        left -= len(chunk)
    return pickle.loads(b"".join(chunks)), fds


def _isolation(isolated: bool) -> dict:
    iso = {"network": isolated, "pid": isolated and os.getpid() == 1, "filesystem": False, "capabilities": False}
    detail = []
    if isolated:
        try:
            setup_filesystem()
            iso["filesystem"] = _probe(_private_tmp)
        except OSError as e:
            detail.append(f"filesystem: {e}")
    iso["capabilities"] = _probe(drop_capabilities)
    iso["detail"] = "; ".join(detail)
    return iso


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    iso = _isolation(sys.argv[2] == "1")
    _prctl(PR_SET_DUMPABLE, 0)  # candidates may not ptrace or read the memory of the server
    if not iso["pid"]:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans re-parent here, so the parent's sweep still finds them
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps our children; verdicts never need exit codes
    codec, runner = _load("codec"), _load("runner")
    sock.sendall((json.dumps({"isolation": iso}) + "\n").encode())
    while True:
        payload, fds = _recv_request(sock)
        if payload is None:
            return
        pid = os.fork()
        if pid == 0:
            _child(payload, fds, sock, iso, codec, runner)
        for fd in fds:
            os.close(fd)
        sock.sendall((json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    main()
