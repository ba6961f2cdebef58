"""Launched by tests/train/test_dist.py: `deepspeed --num_gpus 2 tests/train/dist_shm_probe.py OUT_DIR`.

Each rank joins through train.dist.init_distributed and writes OUT_DIR/rank{R}.json: whether its DeepSpeed CPU
all-reduce buffer existed in /dev/shm when it was released (the test is not vacuous) and whether it exists after, and
the result of an all-reduce through that shared memory after the release (it must still work).
"""

import json
import sys
from pathlib import Path

import deepspeed.comm
import torch

from train import dist

release = dist.release_shm_allreduce_buffer
seen: dict = {}


def recording_release() -> None:
    seen["before"] = dist.shm_allreduce_buffer().exists()
    release()
    seen["after"] = dist.shm_allreduce_buffer().exists()


dist.release_shm_allreduce_buffer = recording_release
dist.init_distributed()
total = torch.full((4,), float(dist.rank() + 1))
deepspeed.comm.inference_all_reduce(total)  # the shm kernel where DeepSpeed built it, else the process group
seen["sum"] = total.tolist()
Path(sys.argv[-1], f"rank{dist.rank()}.json").write_text(json.dumps(seen))
