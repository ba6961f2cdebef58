"""In-process runs share one process group: an evaluation must not destroy the group an SFT / RL run made, and a run
after an environment reset must still find its rank (the suite runs all three in one process, in any order)."""

import os

import torch.distributed as dist

from repair import ranks
from train import dist as train_dist


def test_evaluation_leaves_a_group_it_did_not_make_and_a_later_run_finds_its_rank(monkeypatch):
    train_dist.init_distributed()  # as an in-process SFT / RL run does (1 rank)
    assert dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert ranks.init() == (0, 1)
    ranks.close()
    assert dist.is_initialized()  # destroyed here, DeepSpeed's cached groups would name a dead group
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)  # a test that restores os.environ after its run
    train_dist.init_distributed()
    assert (os.environ["RANK"], os.environ["LOCAL_RANK"], os.environ["WORLD_SIZE"]) == ("0", "0", "1")
