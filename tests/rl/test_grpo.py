"""rl/grpo.py for real: in-process on one rank (with a reward that varies), and 2 CPU ranks via the deepspeed launcher
(with the probe split over the ranks)."""

import os
import subprocess
from pathlib import Path

import pytest
import torch

from train.checkpoint import latest_checkpoint
from train.config import load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def parity_reward(prompts, completions, completion_ids, **_):
    """A reward that differs between random completions, so advantages (and gradients) are non-zero."""
    return [float(ids.sum().item() % 2) for ids in completion_ids]


def _only_lora_changed(ckpt: Path, base_dir) -> None:
    from transformers import AutoModel

    state = torch.load(ckpt / "mp_rank_00_model_states.pt", weights_only=False)["module"]
    base = AutoModel.from_pretrained(base_dir).state_dict()
    assert any("lora_" in k for k in state)
    for key, value in state.items():
        if "lora_" not in key:
            assert torch.equal(value.float(), base[key.replace("base_model.model.", "").replace(".base_layer", "")])


def test_one_rank_grpo_updates_only_lora(tiny_model_dir, tmp_path, monkeypatch):
    from rl import grpo, rewards

    monkeypatch.setitem(rewards.REWARD_FUNCS, "parity", parity_reward)
    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={tiny_model_dir}",
                                    f"output_dir={tmp_path}", "max_steps=1", "use_wandb=false",
                                    "rewards.funcs=[parity]", "rewards.weights=[1.0]", "num_generations=4",
                                    "prompts_per_rank=2", "max_completion_length=16", "diffusion_steps=8",
                                    "block_length=16", "optim.weight_decay=0.0"])
    grpo.main(cfg)
    (row,) = read_metrics(tmp_path)
    assert row["frac_reward_zero_std"] < 1.0 and row["loss"] != 0.0
    assert {"reward", "reward_std", "kl", "clip_ratio/region_mean", "completions/mean_length",
            "rewards/parity/mean"} <= set(row)
    _only_lora_changed(latest_checkpoint(tmp_path), tiny_model_dir)
    state = torch.load(latest_checkpoint(tmp_path) / "mp_rank_00_model_states.pt", weights_only=False)["module"]
    assert any(v.abs().sum() > 0 for k, v in state.items() if "lora_B" in k), "LoRA B must have moved from 0"


def test_bad_rl_config_fails_fast(tiny_model_dir, tmp_path):
    from rl import grpo
    from train.config import ConfigError

    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), "micro_batch_size=3"])
    with pytest.raises(ConfigError, match="multiple of micro_batch_size"):
        grpo.validate(cfg)
    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), "rollout_batch_size=0"])
    with pytest.raises(ConfigError, match="rollout_batch_size must be >= 1"):
        grpo.validate(cfg)


@pytest.mark.deepspeed
def test_two_rank_grpo_writes_trl_metrics(tiny_model_dir, tmp_path, master_port):
    port = master_port()
    cmd = ["deepspeed", "--num_gpus", "2", "--master_port", str(port), "rl/grpo.py", "--config", "configs/rl/tiny.yaml",
           f"model={tiny_model_dir}", f"output_dir={tmp_path}", "max_steps=3",
           "probe.num_prompts=3", "probe.every=2"]  # 3 probe prompts over 2 ranks: one rank scores 1, the other 2
    env = {k: v for k, v in ENV.items() if k != "OMP_NUM_THREADS"}  # the ranks must share the cores by themselves
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [0, 1, 2, 3]  # step 0: the starting policy's probe
    probes = [r for r in rows if "probe/reward" in r]
    assert [r["step"] for r in probes] == [0, 2, 3] and all(r["probe/completions"] == 3 for r in probes)
    assert all("probe/pass_rate" in r for r in probes)
    for r in rows[1:]:
        assert {"reward", "reward_std", "kl", "clip_ratio/region_mean", "completions/mean_length", "time/generate",
                "time/reward", "time/reference", "time/optimize"} <= set(r)
    assert (tmp_path / "final/adapter/adapter_config.json").exists()
