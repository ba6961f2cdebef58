"""Rank helpers that need no process group."""

from __future__ import annotations

import os

import pytest
import torch

from train import dist


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU ranks only")
def test_cpu_ranks_split_the_cores(monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    dist.share_cpu_threads()
    assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // 2)


def test_explicit_omp_threads_win(monkeypatch, restore_threads):
    torch.set_num_threads(3)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    dist.share_cpu_threads()
    assert torch.get_num_threads() == 3


def test_without_a_process_group_reductions_are_identity():
    assert dist.all_reduce_sum(2.5) == 2.5 and dist.all_reduce_max(-1.0) == -1.0 and dist.all_reduce_mean(4.0) == 4.0
