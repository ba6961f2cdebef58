"""train/sft.py that is SIGKILLed, launcher and all ranks, right after its checkpoint of step KILL_AT_STEP is complete:
a crash at a known point, so the resume test does not race a run that may finish before a watcher can kill it.

    KILL_AT_STEP=4 deepspeed --num_gpus 2 tests/train/sft_killed_at.py --config configs/sft/tiny.yaml ...
"""

import os
import signal

from train import dist, sft
from train.config import cli_config

KILL_AT_STEP = int(os.environ["KILL_AT_STEP"])
save_checkpoint = sft.save_checkpoint


def save_then_die(engine, output_dir, step, *args, **kwargs):
    path = save_checkpoint(engine, output_dir, step, *args, **kwargs)  # returns after every rank has saved
    if step == KILL_AT_STEP and dist.is_main():
        os.killpg(os.getpgid(0), signal.SIGKILL)  # the launcher's process group, as a scheduler's kill
    return path


sft.save_checkpoint = save_then_die

if __name__ == "__main__":
    sft.main(cli_config(sft.Config))
