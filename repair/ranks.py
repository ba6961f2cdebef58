"""Ranks of a data-parallel evaluation: join the process group a launcher set up, shard problems, wait for the others.

torchrun (`torchrun --nproc_per_node N -m repair.evaluate ...`) and the deepspeed launcher (`deepspeed --num_gpus N
--module repair.evaluate ...`, or `--num_nodes`/hostfile) both export RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR /
MASTER_PORT; plain `python -m repair.evaluate` is one rank and starts no process group. gloo on CPU, NCCL on GPUs.
The group is only used for barriers: rows travel through the files of OUT/runs/ (each rank appends its own), so a
rerun with another N resumes from whatever rows exist. (train/dist.py holds the same launcher conventions for SFT/RL;
repair/ may not import train/, so the few lines evaluation needs live here.)
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

_joined = False  # whether init() created the process group (close() leaves one it did not create alone)


def init() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched with more than one rank."""
    global _joined
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        _joined = True
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # Ranks finish their shards at different times: the final barrier must outwait the slowest shard.
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(hours=24))
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        if not cuda and "OMP_NUM_THREADS" not in os.environ and local > 1:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))  # CPU ranks split the cores
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def device() -> str | None:
    """This rank's GPU under a launcher (None: the loader's default)."""
    if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return None


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def max_over_ranks(value: float) -> float:
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device="cuda" if torch.cuda.is_available() else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def close() -> None:
    """Leave the process group init() joined. A group the caller's process made (an in-process SFT or RL run before
    an in-process evaluation) stays: destroyed under it, DeepSpeed's cached groups would name a dead group."""
    global _joined
    if _joined and dist.is_initialized():
        dist.destroy_process_group()
    _joined = False


def shard(items: list, rank: int, world: int) -> list:
    """Every world-th item from `rank` on: deterministic, and balanced when problem costs drift along the list."""
    return items[rank::world]
