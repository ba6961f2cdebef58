"""scripts/gpu_smoke.sh: without a GPU it stops at once; --cpu-check runs every stage's real command (model build
from the Hub config.json, deepspeed SFT and coupled-GRPO, synthesis, repair.evaluate on local MBPP+) on a one-layer
model of the real vocabulary, so its wiring is tested here. The GPU figures themselves need a GPU."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_stops_at_once(tmp_path):
    proc = subprocess.run(["bash", "scripts/gpu_smoke.sh", "--random-weights", str(tmp_path / "out")], cwd=REPO,
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA GPU visible" in proc.stderr and "--cpu-check" in proc.stderr
    assert not (tmp_path / "out").exists()


def _cpu_check(tmp_path, arch: str) -> str:
    out = tmp_path / "out"
    proc = subprocess.run(["bash", "scripts/gpu_smoke.sh", "--random-weights", "--cpu-check", "--arch", arch,
                           str(out)], cwd=REPO, env={**ENV, "PEAK_TFLOPS": "1"}, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    log = proc.stdout
    for k in range(6):
        assert f"=== {k}/5 " in log
    summary = log.split("=== summary")[1]
    rows = re.findall(r"^\s+(SFT|RL|synthesis|evaluate)\s+n/a\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)%$", summary, re.M)
    assert [r[0] for r in rows] == ["SFT", "RL", "synthesis", "evaluate"], summary
    assert all(float(est) > 0 and float(m) > 0 for _, est, _, m in rows)
    assert "checkpoint step_" in log and "no frozen base" in log
    assert (out / "sft/final/adapter/adapter_config.json").exists() and (out / "eval/results.json").exists()
    return log


@pytest.mark.deepspeed
def test_cpu_check_runs_every_stage_llada(tmp_path):
    log = _cpu_check(tmp_path, "llada")
    assert "model: llada, " in log


@pytest.mark.slow
def test_cpu_check_runs_every_stage_dream(tmp_path):
    log = _cpu_check(tmp_path, "dream")
    assert "model: Dream, " in log
