"""Which processes belong to a sandbox, and the pids cgroup that caps them; plain /proc reads, no psutil.

A run's processes are found three ways, because each alone has failed somewhere: by parent pid below the zygote
(psutil's `children()` also filters by wall-clock create time, so a clock step hid orphans from it), by pid namespace
(isolated mode: everything a run starts lives in the zygote's namespace, whatever it reparents to or setsids into),
and by cgroup membership (inherited on fork, also when the pids cgroup is the only isolation there is).
In a pid namespace the zygote is the namespace's init: every process of the namespace descends from it (orphans
re-parent to it or to a subreaper below it), so its tree, read from /proc/<pid>/task/<tid>/children, is the namespace
and no host-wide /proc scan is needed (that scan took 1-50 ms per run depending on the host's load and process count).
"""

from __future__ import annotations

import os
import secrets
import time

PIDS_CGROUP = "/sys/fs/cgroup/pids"  # cgroup v1 pids controller, when mounted and writable
ProcessTable = dict[int, tuple[int, str]]  # pid -> (parent pid, state letter)


def sandbox_processes(root: int, in_namespace: bool, cgroup: str | None) -> list[int]:
    """Live pids a run left behind: below `root`, in its pid namespace (when it has one), or in `cgroup`."""
    if in_namespace and os.path.exists(f"/proc/{root}/task/{root}/children"):
        found = tree(root) | (cgroup_members(cgroup) if cgroup is not None else set())
        found.discard(root)
        return sorted(pid for pid in found if _state(pid) not in (None, "Z"))
    table = process_table()
    found = descendants(root, table)
    if in_namespace:
        found |= namespace_members(root, table)
    if cgroup is not None:
        found |= cgroup_members(cgroup)
    found.discard(root)
    return sorted(pid for pid in found if _alive(pid, table))


def process_table() -> ProcessTable:
    """One pass over /proc/<pid>/stat."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()  # the command name may hold spaces and parentheses
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), fields[0].decode())
    return table


def tree(root: int) -> set[int]:
    """Descendants of `root` from the kernel's per-thread children lists (only the sandbox's processes are read)."""
    found, stack = set(), [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            fresh = [k for k in kids if k not in found]
            found.update(fresh)
            stack.extend(fresh)
    return found


def _state(pid: int) -> str | None:
    """The state letter of one process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int, table: ProcessTable) -> bool:
    return pid in table and table[pid][1] != "Z"  # a zombie runs nothing any more


def descendants(root: int, table: ProcessTable) -> set[int]:
    below: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        below.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in below.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def namespace_members(root: int, table: ProcessTable) -> set[int]:
    """Host pids living in root's pid namespace."""
    try:
        ns = os.readlink(f"/proc/{root}/ns/pid")
    except OSError:
        return set()
    members = set()
    for pid in table:
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") == ns:
                members.add(pid)
        except OSError:
            pass
    return members


def cgroup_members(path: str) -> set[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return {int(line) for line in f if line.strip()}
    except (OSError, ValueError):
        return set()


def wait_dead(pids: list[int], timeout: float) -> None:
    """Until every pid is gone or a zombie (the zygote ignores SIGCHLD, so the kernel reaps them), or `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_state(pid) in (None, "Z") for pid in pids):  # only these pids are read, not the whole table
            return
        time.sleep(0.005)


def create_pids_cgroup(pid: int, max_pids: int) -> str | None:
    """Put the zygote (and so every process of every run) in a pids cgroup: a fork bomb stops at max_pids."""
    path = os.path.join(PIDS_CGROUP, f"diffucode-{pid}-{secrets.token_hex(4)}")
    try:
        os.mkdir(path)
        with open(os.path.join(path, "pids.max"), "w") as f:
            f.write(str(max_pids))
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))
    except OSError:
        remove_cgroup(path)
        return None
    return path


def remove_cgroup(path: str | None) -> None:
    for _ in range(50):
        if path is None or not os.path.isdir(path):
            return
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)  # still emptying
