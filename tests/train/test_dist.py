"""Rank helpers, and what a 2-rank launch leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from train import dist

REPO = Path(__file__).resolve().parents[2]


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


@pytest.mark.skipif(torch.cuda.is_available() or not Path("/dev/shm").is_dir(), reason="CPU ranks, Linux shm")
@pytest.mark.parametrize("ranks", [1, 2])
def test_launch_leaves_no_shm_allreduce_buffer(tmp_path, master_port, ranks):
    """DeepSpeed's CPU shm all-reduce buffers (66 MB a rank, never unlinked by DeepSpeed; the launcher makes one at
    1 rank too) are gone once the ranks have joined, the all-reduce over them still sums, and nothing named by this
    launch's port stays in /dev/shm."""
    port = master_port()
    cmd = [str(Path(sys.executable).parent / "deepspeed"), "--num_gpus", str(ranks), "--master_port", str(port),
           "tests/train/dist_shm_probe.py", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(ranks)]
    assert all(r["before"] and not r["after"] for r in seen), seen  # it existed, then it did not
    assert all(r["sum"] == [sum(range(1, ranks + 1))] * 4 for r in seen), seen  # 1 (+ 2) on every rank, after
    assert not list(Path("/dev/shm").glob(f"deepspeed_allreduce_buffer_*_{port}_*"))
