"""Rank helpers: the one place that knows about torch.distributed, so entry scripts read the same on 1 or N ranks."""

from __future__ import annotations

import atexit
import os
from pathlib import Path

import torch
import torch.distributed as dist


def init_distributed() -> None:
    """Join the process group the deepspeed launcher set up (or a 1-rank group when run as plain `python`)."""
    import deepspeed

    if dist.is_initialized():
        # A second run in the same process (tests, notebooks) joins the existing group; DeepSpeed reads the rank from
        # the environment, which the caller may have reset since the group was made.
        os.environ.setdefault("RANK", str(dist.get_rank()))
        os.environ.setdefault("WORLD_SIZE", str(dist.get_world_size()))
        os.environ.setdefault("LOCAL_RANK", str(dist.get_rank() % max(1, torch.cuda.device_count() or 1)))
        return
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    atexit.register(close)  # every entry point that joins the group leaves it, with no call of its own
    release_shm_allreduce_buffer()
    share_cpu_threads()


def shm_allreduce_buffer() -> Path:
    """This rank's buffer of DeepSpeed's CPU shared-memory all-reduce (csrc/cpu/comm/shm.cpp names it so)."""
    addr, port = os.environ.get("MASTER_ADDR", ""), os.environ.get("MASTER_PORT", "")
    return Path("/dev/shm") / f"deepspeed_allreduce_buffer_{os.getuid()}_{addr}_{port}_{rank()}"


def release_shm_allreduce_buffer() -> None:
    """Unlink this rank's DeepSpeed CPU all-reduce buffer as soon as every rank has mapped every buffer.

    DeepSpeed creates one 66 MB file per rank in /dev/shm at init and never unlinks it: every launch on a new
    MASTER_PORT leaves two more in RAM, on any exit. Here 289 of them (19 GB of 24) got a 2-rank SFT run OOM-killed.
    Each rank opens its peers' buffers inside deepspeed.init_distributed, so after a barrier the names can go; the
    mappings, and so the all-reduce, live until the ranks exit. The deepspeed launcher makes one at 1 rank too
    (`--num_gpus 1`; not a plain `python` run); on GPUs (NCCL) there is none.
    """
    if world_size() > 1:
        dist.barrier()
    shm_allreduce_buffer().unlink(missing_ok=True)


def share_cpu_threads() -> None:
    """CPU ranks split the cores instead of each taking all of them (as torchrun does; the deepspeed launcher does not).

    Oversubscribed intra-op threads spin against each other and the gloo collectives: on 2 cores with 2 ranks a tiny RL
    step took 2.5-17 s instead of 0.8-1.0 s. An explicit OMP_NUM_THREADS wins.
    """
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    if torch.cuda.is_available() or "OMP_NUM_THREADS" in os.environ or local_ranks <= 1:
        return
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_ranks))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def close() -> None:
    """Leave the process group before the interpreter exits.

    Left alive, gloo's worker threads are torn down by static destructors and a rank can abort after its work is done
    ("terminate called without an active exception", exit -6: seen once in CI after a finished 2-rank SFT run).
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _all_reduce(value: float, op) -> float:
    if not dist.is_initialized() or dist.get_world_size() == 1:  # a 1-rank collective is a no-op, not a free one
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device())  # NCCL reduces only device tensors
    dist.all_reduce(t, op=op)
    return float(t.item())


def all_reduce_sum(value: float) -> float:
    """Sum a Python number over ranks."""
    return _all_reduce(value, dist.ReduceOp.SUM)


def all_reduce_max(value: float) -> float:
    return _all_reduce(value, dist.ReduceOp.MAX)


def all_reduce_mean(value: float) -> float:
    return all_reduce_sum(value) / world_size()


def device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def print0(*args, **kwargs) -> None:
    if is_main():
        print(*args, **kwargs, flush=True)
