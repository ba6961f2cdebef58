"""rl/ on the tiny Dream model: the estimators apply Dream's logit shift exactly once, and coupled-GRPO with the
Dream sampler (alg entropy) runs 3 steps on 2 CPU ranks through the deepspeed launcher."""

import os
import subprocess
from pathlib import Path

import pytest
import torch

from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}


@pytest.mark.parametrize("estimator", ["coupled", "d1"])
def test_estimators_apply_the_dream_shift_exactly_once(tiny_dream_dir, estimator):
    """rl.grpo's log-prob path (token_logits + estimate_logps) against log p(o_j) read by hand from row P + j - 1."""
    from transformers import AutoModel

    from inference.adapters import get_adapter
    from rl import grpo
    from rl.estimators import EstimatorConfig, draw_masks, masked_inputs
    from rl.rollout import Rollout

    model = AutoModel.from_pretrained(tiny_dream_dir).eval()
    adapter = get_adapter(model.config)
    g = torch.Generator().manual_seed(0)
    N, P, C = 3, 5, 8
    prompt, completion = torch.randint(10, 4000, (N, P), generator=g), torch.randint(10, 4000, (N, C), generator=g)
    att = torch.ones(N, P + C, dtype=torch.long)
    att[0, :2] = 0  # one left-padded prompt
    prompt[0, :2] = model.config.pad_token_id
    cmask = torch.ones(N, C, dtype=torch.bool)
    draw = draw_masks(EstimatorConfig(name=estimator), cmask, P, g)
    r = Rollout([""] * N, [""] * N, prompt, completion, att, cmask)
    with torch.no_grad():
        got = grpo._logps(model, adapter, r, slice(None), draw)  # [N, C]
        ids = masked_inputs(prompt, completion, draw, adapter.mask_token_id)  # [K*N, P+C]
        raw = model(input_ids=ids, attention_mask=att.repeat(draw.completion_masks.shape[0], 1)).logits
    K = draw.completion_masks.shape[0]

    def score(rows):  # rows: which logits row scores completion token j
        lp = torch.log_softmax(raw[:, rows], -1).gather(-1, completion.repeat(K, 1)[..., None]).squeeze(-1)
        w = draw.completion_masks.float() * draw.pass_weights[..., None]
        return draw.constant * (w * lp.view(K, N, C)).sum(0)

    once = torch.arange(P - 1, P + C - 1)
    torch.testing.assert_close(got, score(once), atol=1e-5, rtol=1e-5)
    for wrong in (once + 1, once - 1):  # unshifted, shifted twice
        assert not torch.allclose(got, score(wrong), atol=1e-3)


def test_dream_sampler_config_is_checked(tmp_path):
    from rl import grpo
    from train.config import ConfigError, load_config

    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/diffucoder-coupled.yaml"), "sampler=nope"])
    with pytest.raises(ConfigError, match="sampler must be one of"):
        grpo.validate(cfg)
    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/diffucoder-coupled.yaml")])
    assert (cfg.num_generations, cfg.num_iterations, cfg.beta, cfg.epsilon, cfg.optim.lr) == (10, 2, 0.01, 0.5, 1e-6)
    assert (cfg.max_completion_length, cfg.diffusion_steps, cfg.sampler, cfg.alg) == (256, 256, "dream", "entropy")


@pytest.mark.deepspeed
def test_two_rank_coupled_grpo_on_dream_three_steps(tiny_dream_dir, tmp_path, master_port):
    port = master_port()
    cmd = ["deepspeed", "--num_gpus", "2", "--master_port", str(port), "rl/grpo.py", "--config", "configs/rl/tiny.yaml",
           f"model={tiny_dream_dir}", f"output_dir={tmp_path}", "max_steps=3", "sampler=dream", "alg=entropy",
           "max_completion_length=16", "diffusion_steps=8"]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600, start_new_session=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all({"reward", "kl", "clip_ratio/region_mean", "completions/mean_length"} <= set(r) for r in rows)
    assert (tmp_path / "final/adapter/adapter_config.json").exists()


def test_grpo_step_on_the_hub_layout_of_the_dream_tokenizer(hub_dream_dir, tmp_path):
    """One coupled-GRPO step (one rank, in process) on a Dream directory with the Hub's slow-tokenizer files."""
    from rl import grpo
    from train.config import load_config

    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={hub_dream_dir}",
                                    f"output_dir={tmp_path}", "max_steps=1", "sampler=dream", "alg=entropy",
                                    "max_completion_length=16", "diffusion_steps=8", "use_wandb=false",
                                    "prompts_per_rank=1", "save_final_state=false"])
    grpo.main(cfg)
    (row,) = read_metrics(tmp_path)
    assert row["step"] == 1 and row["rollout/nfe"] > 0 and "kl" in row
