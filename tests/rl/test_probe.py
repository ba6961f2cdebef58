"""rl/probe.py: held-out probe prompts (never trained on), scored with the training reward code; in grpo.main the
probe runs before step 1, every probe.every steps and after the last, greedy (the same number while the policy
does not change)."""

from pathlib import Path

import pytest
import torch

from rl.probe import ProbeConfig, probe_due, run_probe, split_probe
from rl.problems import RLDataConfig, load_rl_problems
from rl.rewards import RewardConfig
from rl.rollout import Rollout
from train.config import ConfigError, load_config
from train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]


def test_probe_prompts_are_held_out_of_training():
    problems = load_rl_problems(RLDataConfig(name="tiny"))
    train, probe = split_probe(problems, ProbeConfig(num_prompts=3))
    assert train == problems[:-3] and probe == problems[-3:]
    assert not {p["prompt"] for p in train} & {p["prompt"] for p in probe}
    assert split_probe(problems, ProbeConfig()) == (problems, [])  # off
    repeated = problems + problems[:2]  # a jsonl that repeats prompts: a repeated one is not a probe
    assert split_probe(repeated, ProbeConfig(num_prompts=3))[1] == problems[-1:]
    with pytest.raises(ConfigError, match="must be smaller than the number of RL problems"):
        split_probe(problems, ProbeConfig(num_prompts=len(problems)))


def test_probe_schedule():
    cfg = ProbeConfig(num_prompts=4, every=5)
    assert [s for s in range(13) if probe_due(cfg, s, 12)] == [0, 5, 10, 12]
    assert not any(probe_due(ProbeConfig(num_prompts=0), s, 12) for s in range(13))


def test_probe_scores_with_the_training_reward():
    """Canonical bodies pass every test (code 1, format 1 -> 2.5 with weights 2, 0.5), a body that raises parses but
    pass none (0.5), a broken body scores format 0.5 only (0.25): reward and pass rate by hand."""
    problems = load_rl_problems(RLDataConfig(name="tiny"))[:4]
    from data.tiny_problems import TINY_PROBLEMS

    bodies = [TINY_PROBLEMS[0]["canonical_solution"], TINY_PROBLEMS[1]["canonical_solution"], "    raise ValueError\n",
              "    return (\n"]
    calls = []

    def generate(prompts, num_generations, temperature, seed):
        calls.append((prompts, num_generations, temperature, seed))
        n = len(prompts)
        ids = torch.zeros(n, 4, dtype=torch.long)
        return Rollout(prompts, bodies[:n], ids, ids, ids, ids.bool())

    rewards = RewardConfig(completion_format="body", workers=1)
    first = run_probe(ProbeConfig(num_prompts=4), generate, rewards, problems)
    second = run_probe(ProbeConfig(num_prompts=4), generate, rewards, problems)
    assert first["probe/reward"] == pytest.approx((2.5 + 2.5 + 0.5 + 0.25) / 4)
    assert first["probe/pass_rate"] == 0.5 and first["probe/completions"] == 4
    assert calls[0] == ([p["prompt"] for p in problems], 1, 0.0, 1234) and calls[1] == calls[0]  # same every probe
    assert second["probe/reward"] == first["probe/reward"]
    no_code = run_probe(ProbeConfig(num_prompts=4), generate, RewardConfig(funcs=["format"], weights=[1.0],
                                                                          completion_format="body"), problems)
    assert "probe/pass_rate" not in no_code and no_code["probe/reward"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)


def test_bad_probe_config_fails_fast():
    from rl import grpo

    for key, message in (("probe.every=0", "probe.every must be >= 1"), ("probe.num_prompts=-1", "num_prompts"),
                         ("probe.samples=0", "probe.samples")):
        cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), key])
        with pytest.raises(ConfigError, match=message):
            grpo.validate(cfg)


def mean_id_reward(prompts, completions, completion_ids, **_):
    """A reward with a value of its own for every completion (the tiny model writes no code that passes tests)."""
    return [ids.float().mean().item() / 4096 for ids in completion_ids]


def test_grpo_logs_the_probe_and_never_trains_on_its_prompts(tiny_model_dir, tmp_path, monkeypatch):
    """lr = 0: the policy never changes, so the greedy probe gives the same figure at steps 0, 1 and 2."""
    from rl import grpo, rewards

    monkeypatch.setitem(rewards.REWARD_FUNCS, "mean_id", mean_id_reward)
    trained_on = []
    real_step = grpo.rl_step

    def recording_step(cfg, engine, tokenizer, adapter, problems, step):
        trained_on.extend(p["prompt"] for p in problems)
        return real_step(cfg, engine, tokenizer, adapter, problems, step)

    monkeypatch.setattr(grpo, "rl_step", recording_step)
    cfg = load_config(grpo.Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={tiny_model_dir}",
                                    f"output_dir={tmp_path}", "max_steps=2", "use_wandb=false", "save_every=0",
                                    "rewards.funcs=[mean_id,code]", "rewards.weights=[1.0,1.0]", "num_generations=2",
                                    "prompts_per_rank=6", "micro_batch_size=4", "max_completion_length=16",
                                    "diffusion_steps=8", "block_length=16", "optim.lr=0.0", "probe.num_prompts=3",
                                    "probe.every=1", "gradient_checkpointing=false", "save_final_state=false"])
    grpo.main(cfg)
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert set(rows[0]) == {"step", "probe/reward", "probe/pass_rate", "probe/completions", "probe/seconds"}
    assert len({r["probe/reward"] for r in rows}) == 1 and rows[0]["probe/completions"] == 3
    assert 0 < rows[0]["probe/reward"] < 1  # a real figure of the 3 greedy completions
    probe_prompts = {p["prompt"] for p in load_rl_problems(RLDataConfig(name="tiny"))[-3:]}
    assert len(trained_on) == 12 and not probe_prompts & set(trained_on)  # 2 steps x 6 prompts, 9 distinct ones
