"""A fixed probe set scored with the current policy every `probe.every` steps: RL's effect without the step-to-step
noise of fresh training prompts (issue 31: with lr = 0 the per-step training reward has sd ~0.27 on minicode, because
the prompts differ every step).

- Prompts: the last `num_prompts` rows of the loaded problem list, held out: the run never trains on them, so they are
  disjoint from the training prompts by construction (a repeated prompt in a jsonl is dropped from the probe). The
  training order of the other rows is unchanged until the list wraps around.
- Decoding: the training rollouts' sampler and settings at `probe.temperature` (0: greedy, deterministic); above 0,
  `samples` completions per prompt from the same fixed seeds at every probe.
- Scoring: the training reward (rl.rewards.score, the configured functions and weights) -> `probe/reward`; the fraction
  of completions whose `code` reward is 1 (all tests pass) -> `probe/pass_rate` (when `code` is a reward function).
- Ranks split the prompts (rank r takes r, r + world, ...) and sum their counts, so the figure is over all prompts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rl.problems import reward_columns
from rl.rewards import RewardConfig, score
from rl.rollout import Rollout
from train import dist
from train.config import ConfigError

# (prompts, num_generations, temperature, seed) -> Rollout: the training rollouts' sampler (rl.grpo.sample)
GenerateFn = Callable[[list[str], int, float, int], Rollout]


@dataclass
class ProbeConfig:
    num_prompts: int = 0  # prompts held out of data's problem list, scored every `every` steps; 0 = no probe
    every: int = 10  # steps between probes (also before the first step and after the last)
    temperature: float = 0.0  # probe sampling temperature; 0 = greedy
    samples: int = 1  # completions per probe prompt (> 1 only makes sense with temperature > 0)
    seed: int = 1234  # the probe's sampler seed, the same at every probe (temperature > 0)


def check_probe(cfg: ProbeConfig) -> None:
    if cfg.num_prompts < 0:
        raise ConfigError(f"probe.num_prompts must be >= 0 (0 = no probe), got {cfg.num_prompts}")
    if cfg.every < 1:
        raise ConfigError(f"probe.every must be >= 1, got {cfg.every}")
    if cfg.samples < 1:
        raise ConfigError(f"probe.samples must be >= 1, got {cfg.samples}")
    if cfg.temperature < 0:
        raise ConfigError(f"probe.temperature must be >= 0, got {cfg.temperature}")


def split_probe(problems: list[dict], cfg: ProbeConfig) -> tuple[list[dict], list[dict]]:
    """(training problems, probe problems): the last num_prompts rows held out of training."""
    n = cfg.num_prompts
    if n == 0:
        return problems, []
    if n >= len(problems):
        raise ConfigError(f"probe.num_prompts ({n}) must be smaller than the number of RL problems ({len(problems)}): "
                          "the probe prompts are held out of them; raise data.max_problems or lower probe.num_prompts")
    train, held = problems[:-n], problems[-n:]
    seen = {p["prompt"] for p in train}
    probe = [p for p in held if p["prompt"] not in seen]
    if not probe:
        raise ConfigError("every probe prompt also occurs among the training prompts (a repeated prompt list)")
    return train, probe


def probe_due(cfg: ProbeConfig, step: int, max_steps: int) -> bool:
    """Whether to probe after `step` optimizer-loop steps (step 0: the starting policy)."""
    return cfg.num_prompts > 0 and (step % cfg.every == 0 or step == max_steps)


@torch.no_grad()
def run_probe(cfg: ProbeConfig, generate: GenerateFn, rewards: RewardConfig, problems: list[dict]) -> dict:
    """{probe/reward, probe/pass_rate (with a code reward), probe/completions, probe/seconds} over all ranks
    (probe/seconds apart from time/*: those sum to a training step's time)."""
    t0 = time.perf_counter()
    mine = problems[dist.rank() :: dist.world_size()]
    total, passed, count = 0.0, 0.0, 0.0
    has_code = "code" in rewards.funcs
    if mine:  # a rank without probe prompts still joins the reductions below
        r = generate([p["prompt"] for p in mine], cfg.samples, cfg.temperature, cfg.seed + dist.rank())
        reward, per_func = score(rewards, r.prompts, r.completions, r.completion_ids,
                                 reward_columns(mine, cfg.samples))
        total, count = reward.sum().item(), float(reward.numel())
        passed = (per_func["code"] == 1.0).sum().item() if has_code else 0.0
    count = dist.all_reduce_sum(count)
    out = {"probe/reward": dist.all_reduce_sum(total) / count, "probe/completions": count}
    passed = dist.all_reduce_sum(passed)
    if has_code:
        out["probe/pass_rate"] = passed / count
    out["probe/seconds"] = dist.all_reduce_max(time.perf_counter() - t0)
    return out
