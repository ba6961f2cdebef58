"""Does an RL step learn in the right direction? Through the real rl code (rollout masks, estimators, advantages,
grpo_loss, rl.grpo.optimize, the DeepSpeed engine) on the tiny model (issue 31, item 0).

- one step: advantage +1 on one completion and -1 on another of the same prompt moves their estimated log-probs up
  and down (flip the loss's sign in rl/loss.py and this fails);
- fixed prompts (slow): a reward the tiny model can learn rises clearly above its lr = 0 twin's, and the probe of
  held-out prompts (greedy) moves with it while the twin's stays exactly where it started.
"""

from pathlib import Path

import pytest
import torch

from train.config import load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
COMPLETIONS = ["    return a + b\n", "    x = [1, 2]\n    print(x)\n"]  # no token in common but the indentation


def _engine(tiny_model_dir, tmp_path, *overrides):
    from rl import grpo
    from train import dist
    from train.engine import build_engine

    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={tiny_model_dir}",
                                    f"output_dir={tmp_path}", "use_wandb=false", "prompts_per_rank=1",
                                    "num_generations=2", "micro_batch_size=2", "num_iterations=1", "beta=0.0",
                                    "optim.weight_decay=0.0", "gradient_checkpointing=false", *overrides])
    grpo.validate(cfg)
    dist.init_distributed()
    torch.manual_seed(0)
    engine, tokenizer, adapter = build_engine(cfg, 1)
    return cfg, engine, tokenizer, adapter


def _rollout(tokenizer, adapter):
    from rl.rollout import Rollout, completion_mask, encode_prompts

    prompt_ids, prompt_att = encode_prompts(tokenizer, [PROMPT] * 2, False)
    eos = adapter.stop_ids(tokenizer)[0]
    ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + [eos] for c in COMPLETIONS]
    C = max(map(len, ids))
    completion_ids = torch.tensor([row + [eos] * (C - len(row)) for row in ids])  # [2, C] EOS run after the end
    attention = torch.cat([prompt_att, torch.ones_like(completion_ids)], -1)
    cmask = completion_mask(completion_ids, adapter.stop_ids(tokenizer), adapter.pad_id(tokenizer))
    return Rollout([PROMPT] * 2, COMPLETIONS, prompt_ids, completion_ids, attention, cmask)


@torch.no_grad()
def _sequence_logps(cfg, engine, adapter, r, draws) -> torch.Tensor:
    """[2] estimated sequence log-prob (sum of s_i over the loss's tokens), averaged over the given mask draws."""
    from rl import grpo

    engine.module.eval()
    out = []
    for draw in draws:
        out.append((grpo._logps(engine, adapter, r, slice(None), draw) * r.completion_mask).sum(-1))
    return torch.stack(out).mean(0)


def test_one_step_moves_log_probs_with_the_sign_of_the_advantage(tiny_model_dir, tmp_path):
    from rl import grpo
    from rl.advantages import ADVANTAGES
    from rl.rollout import draw_rollout_masks

    cfg, engine, tokenizer, adapter = _engine(tiny_model_dir, tmp_path, "optim.lr=1.0e-3")
    r = _rollout(tokenizer, adapter)
    r.rewards = torch.tensor([1.0, 0.0])
    r.advantages = ADVANTAGES["leave_one_out"](r.rewards, 2)
    assert r.advantages.tolist() == [1.0, -1.0]
    train_draw = draw_rollout_masks(cfg.estimator, r, torch.Generator().manual_seed(0))
    fresh = [draw_rollout_masks(cfg.estimator, r, torch.Generator().manual_seed(s)) for s in range(1, 5)]
    before = _sequence_logps(cfg, engine, adapter, r, [train_draw]), _sequence_logps(cfg, engine, adapter, r, fresh)

    draws = [train_draw] * cfg.num_iterations  # one draw for every inner iteration, as rl_step does by default
    grpo.optimize(cfg, engine, adapter, r, draws, grpo.fixed_scores(cfg, engine, adapter, r, draws))

    after = _sequence_logps(cfg, engine, adapter, r, [train_draw]), _sequence_logps(cfg, engine, adapter, r, fresh)
    for (b, a), which in zip(zip(before, after), ("the training mask draw", "4 fresh mask draws")):
        moved = (a - b).tolist()
        print(f"log-prob change under {which}: A=+1 {moved[0]:+.4f}, A=-1 {moved[1]:+.4f} nats")
        assert moved[0] > 0.01, f"advantage +1 must raise its log-prob ({which}): {moved}"
        assert moved[1] < -0.01, f"advantage -1 must lower its log-prob ({which}): {moved}"


def test_fresh_masks_hold_the_rollout_policys_scores_for_every_iteration(tiny_model_dir, tmp_path):
    """fresh_masks (DiffuCoder's trainer): each inner iteration has its own draw, and its old scores are the rollout
    policy's under that draw, taken before the first update (were they taken after it, rho would be 1 again)."""
    from rl import grpo
    from rl.advantages import ADVANTAGES

    cfg, engine, tokenizer, adapter = _engine(tiny_model_dir, tmp_path, "optim.lr=1.0e-3", "num_iterations=2",
                                              "fresh_masks=true")
    r = _rollout(tokenizer, adapter)
    r.advantages = ADVANTAGES["leave_one_out"](torch.tensor([1.0, 0.0]), 2)
    draws = grpo.iteration_draws(cfg, r, step=0)
    assert len(draws) == 2 and draws[0] is not draws[1]
    assert not torch.equal(draws[0].completion_masks, draws[1].completion_masks)
    assert grpo.iteration_draws(cfg, r, step=0)[1].completion_masks.equal(draws[1].completion_masks)  # seeded
    before = grpo.scores_under(cfg, engine, adapter, r, draws[1])
    fixed = grpo.fixed_scores(cfg, engine, adapter, r, draws)
    assert fixed["old"][0] == [None] and set(fixed["old"]) == {0, 1} and fixed["ref"] == {0: None, 1: None}
    torch.testing.assert_close(fixed["old"][1][0], before[0])
    metrics = grpo.optimize(cfg, engine, adapter, r, draws, fixed)
    after = grpo.scores_under(cfg, engine, adapter, r, draws[1])
    assert not torch.allclose(after[0], before[0], atol=1e-4), "the first iteration's update moved the policy"
    assert metrics["grad_norm"] > 0

    cfg.fresh_masks = False
    reused = grpo.iteration_draws(cfg, r, step=0)
    assert reused[0] is reused[1] and reused[0].completion_masks.equal(draws[0].completion_masks)
    assert set(grpo.fixed_scores(cfg, engine, adapter, r, reused)["old"]) == {0}


class AlignedReward:
    """A reward the random tiny model can learn whatever the prompt: the share of completion tokens whose LM-head row
    points along a fixed random direction v (about half the vocabulary). Raising it is one coherent move of the hidden
    states (along v); a reward on an arbitrary token class (e.g. even ids) has no such direction and barely moves."""

    def __init__(self, model_dir):
        from transformers import AutoModel

        head = AutoModel.from_pretrained(model_dir).get_output_embeddings().weight.detach()  # [V, d]
        v = torch.randn(head.shape[1], generator=torch.Generator().manual_seed(0))
        self.good = head @ v > 0  # [V]

    def __call__(self, prompts, completions, completion_ids, **_):
        return [float(self.good[ids].float().mean()) for ids in completion_ids]


def _fixed_prompt_run(tiny_model_dir, out, lr: float) -> list[dict]:
    from rl import grpo

    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={tiny_model_dir}",
                                    f"output_dir={out}", "use_wandb=false", "max_steps=10", "save_every=0",
                                    "rewards.funcs=[aligned]", "rewards.weights=[1.0]", "data.max_problems=4",
                                    "probe.num_prompts=2", "probe.every=5", "num_generations=4", "prompts_per_rank=2",
                                    "max_completion_length=16", "diffusion_steps=8", "block_length=16", "beta=0.0",
                                    "gradient_checkpointing=false", "optim.weight_decay=0.0", f"optim.lr={lr}",
                                    "save_final_state=false"])
    grpo.main(cfg)
    return read_metrics(out)


@pytest.mark.slow
def test_fixed_prompts_reward_rises_above_the_lr0_twin(tiny_model_dir, tmp_path, monkeypatch):
    from rl import rewards

    monkeypatch.setitem(rewards.REWARD_FUNCS, "aligned", AlignedReward(tiny_model_dir))
    trained = _fixed_prompt_run(tiny_model_dir, tmp_path / "rl", 1e-2)
    control = _fixed_prompt_run(tiny_model_dir, tmp_path / "control", 0.0)
    steps = [r["step"] for r in trained if "reward" in r]
    assert steps == list(range(1, 11)) and [r["step"] for r in control if "reward" in r] == steps
    diffs = [t["reward"] - c["reward"] for t, c in zip(trained[1:], control[1:])]  # row 0: the step-0 probe only
    assert abs(diffs[0]) < 1e-6  # step 1: same prompts, seeds and (still untrained) policy in both runs
    late = sum(diffs[-4:]) / 4
    noise = torch.tensor([c["reward"] for c in control[1:]]).std().item()  # the lr = 0 twin's step-to-step spread
    print(f"paired reward difference, last 4 steps: {late:+.3f} (lr = 0 twin's per-step sd {noise:.3f})")
    assert late > 2 * noise, (late, noise)
    probe_t = [r["probe/reward"] for r in trained if "probe/reward" in r]
    probe_c = [r["probe/reward"] for r in control if "probe/reward" in r]
    assert len(probe_t) == len(probe_c) == 3  # steps 0, 5, 10
    assert len(set(probe_c)) == 1  # greedy probe of an unchanged policy: the same number every time
    assert probe_t[0] == probe_c[0] and probe_t[-1] > probe_c[-1]
