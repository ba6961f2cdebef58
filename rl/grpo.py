"""Coupled-GRPO for masked-diffusion LLMs (DiffuCoder) with sandboxed execution rewards, under DeepSpeed ZeRO-2.

Launch:  deepspeed [--num_gpus N] rl/grpo.py --config configs/rl/tiny.yaml [key=value ...]

Per step and rank: `prompts_per_rank` prompts x `num_generations` completions from the diffusion sampler (one batch, or
batches of `rollout_batch_size`; one generator per rollout on the model's device) -> rewards
(TRL contract, executed in the sandbox) -> group advantages -> mask draws (one reused by every inner iteration, or with
`fresh_masks` one per iteration as in DiffuCoder's trainer) -> reference log-probs (the base: LoRA adapter disabled,
no second model copy) -> `num_iterations` optimizer steps on the same rollouts, each over all of them in micro-batches
(grad_accum is derived: prompts_per_rank * G / micro_batch_size).
Deviations from the reference trainer, on purpose (see ../shared/specs/coupled-grpo.md): the padding attention mask
is passed in every forward; masks are stored with the rollouts instead of reseeding the global RNG; old log-probs at
the first iteration are the detached current ones, so rho = 1 exactly (also with LoRA dropout).
Starting from an SFT adapter (`init_adapter=DIR`) merges it into the base first, so the KL reference is the SFT model.
With `probe.num_prompts` > 0, that many prompts are held out of the problem list and scored with the current policy
(greedy by default) before the first step, every `probe.every` steps and after the last: probe/reward, probe/pass_rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from data.usage import run_cli
from inference.adapters import token_logits
from inference.sampler import fit_block_schedule
from rl.advantages import ADVANTAGES, frac_zero_std
from rl.estimators import EstimatorConfig, MaskDraw, estimate_logps
from rl.loss import grpo_loss
from rl.probe import ProbeConfig, check_probe, probe_due, run_probe, split_probe
from rl.problems import RLDataConfig, load_rl_problems, reward_columns
from rl.rewards import REWARD_FUNCS, RewardConfig, score
from rl.rollout import Rollout, RolloutConfig, draw_rollout_masks, generate_rollouts
from train import dist
from train.checkpoint import save_checkpoint
from train.config import ConfigError, load_config
from train.engine import RunSettings, build_engine, check_engine_settings, grad_norm
from train.run import finish_run, start_run


@dataclass
class Config(RunSettings):
    output_dir: str = "runs/grpo"  # checkpoints, metrics.jsonl, config.yaml and the export (OUTPUT/final)
    run_name: str = "grpo"  # wandb run name
    save_every: int = 50  # steps between resumable checkpoints; 0 = only the final one
    grad_accum: int = 1  # derived: prompts_per_rank * num_generations / micro_batch_size (a given value is replaced)
    data: RLDataConfig = field(default_factory=RLDataConfig)  # the RL prompts and their tests
    rewards: RewardConfig = field(default_factory=RewardConfig)  # reward functions, weights, sandbox limits
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)  # the per-token log-prob estimator
    chat_template: bool = False  # wrap prompts in the tokenizer's chat template (instruct models)
    prompts_per_rank: int = 2  # prompts per step and rank
    num_generations: int = 10  # G: completions per prompt (the group of the advantages)
    num_iterations: int = 2  # mu: optimizer steps on the same rollouts
    fresh_masks: bool = False  # a new mask draw per inner iteration (DiffuCoder's trainer); False: one draw reused
    beta: float = 0.01  # KL penalty weight against the reference (the base with the adapter off; needs LoRA)
    epsilon: float = 0.5  # PPO clip: the ratio is clipped to [1 - epsilon, 1 + epsilon_high]
    epsilon_high: float | None = None  # upper clip; None: = epsilon
    advantage: str = "leave_one_out"  # leave_one_out | group | batch | none  (TRL scale_rewards)
    max_completion_length: int = 256  # completion tokens per rollout
    diffusion_steps: int = 256  # sampler steps per rollout
    block_length: int = 32  # sampler llada: semi-autoregressive block
    sampler: str = "llada"  # llada (semi-AR blocks) | dream (Dream's diffusion_generate: one canvas, alg schedule)
    alg: str = "entropy"  # sampler dream: origin | maskgit_plus | topk_margin | entropy
    temperature: float = 1.0  # rollout sampling temperature
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # fast sampler modes (threshold, prefix cache)
    rollout_batch_size: int | None = None  # rollouts per sampler batch (memory cap); None: all of a rank's at once
    max_steps: int = 256  # RL steps (each: rollouts, then num_iterations optimizer steps)
    probe: ProbeConfig = field(default_factory=ProbeConfig)  # held-out prompts scored every N steps (rl/probe.py)


# The sampler mode's own options, by mode name (inference.sampler.SAMPLERS).
SAMPLER_OPTIONS = {
    "llada": lambda cfg: {"block_length": cfg.block_length},
    "dream": lambda cfg: {"alg": cfg.alg},
}


def validate(cfg: Config) -> None:
    n = cfg.prompts_per_rank * cfg.num_generations
    if cfg.micro_batch_size < 1 or n % cfg.micro_batch_size:
        raise ConfigError(f"prompts_per_rank * num_generations ({n}) must be a multiple of micro_batch_size "
                          f"({cfg.micro_batch_size})")
    if cfg.advantage not in ADVANTAGES:
        raise ConfigError(f"advantage must be one of {sorted(ADVANTAGES)}")
    if cfg.beta > 0 and not cfg.lora.enabled:
        raise ConfigError("beta > 0 needs the LoRA policy (its reference is the adapter-disabled base); set beta=0")
    if cfg.num_generations < 2:
        raise ConfigError("num_generations must be >= 2 for group advantages")
    if cfg.sampler not in SAMPLER_OPTIONS:
        raise ConfigError(f"sampler must be one of {sorted(SAMPLER_OPTIONS)}, got {cfg.sampler!r}")
    unknown = set(cfg.rewards.funcs) - set(REWARD_FUNCS)
    if unknown:
        raise ConfigError(f"unknown reward functions {sorted(unknown)}; known: {sorted(REWARD_FUNCS)}")
    if cfg.rollout_batch_size is not None and cfg.rollout_batch_size < 1:
        raise ConfigError(f"rollout_batch_size must be >= 1 or null (all rollouts in one batch), got {cfg.rollout_batch_size}")
    if cfg.rollout.threshold is not None and not 0.0 < cfg.rollout.threshold <= 1.0:
        raise ConfigError(f"rollout.threshold must be in (0, 1] or null, got {cfg.rollout.threshold}")
    check_probe(cfg.probe)
    cfg.grad_accum = n // cfg.micro_batch_size
    cfg.block_length = fit_block_schedule(cfg.max_completion_length, cfg.block_length, cfg.diffusion_steps,
                                          ("max_completion_length", "block_length", "diffusion_steps"))
    check_engine_settings(cfg)


def _logps(engine, adapter, r: Rollout, rows: slice, draw: MaskDraw) -> torch.Tensor:
    dev = engine.device
    return estimate_logps(lambda ids, att: token_logits(engine, ids, att, adapter), r.prompt_ids[rows].to(dev),
                          r.completion_ids[rows].to(dev), r.attention_mask[rows].to(dev), draw.index(rows),
                          adapter.mask_token_id)


@torch.no_grad()
def scores_under(cfg: Config, engine, adapter, r: Rollout, draw: MaskDraw) -> list[torch.Tensor]:
    """The current model's per-token scores of every micro-batch under `draw` (no gradient, kept on the device)."""
    engine.module.eval()
    return [_logps(engine, adapter, r, s, draw) for s in _micro_slices(cfg, len(r.prompts))]


@torch.no_grad()
def reference_logps(cfg: Config, engine, adapter, r: Rollout, draw: MaskDraw) -> list[torch.Tensor] | None:
    if cfg.beta == 0:
        return None
    with engine.module.disable_adapter():  # the reference: the base with the adapter off
        return scores_under(cfg, engine, adapter, r, draw)


def _micro_slices(cfg: Config, n: int) -> list[slice]:
    return [slice(i, i + cfg.micro_batch_size) for i in range(0, n, cfg.micro_batch_size)]


def iteration_draws(cfg: Config, r: Rollout, step: int) -> list[MaskDraw]:
    """The mask draw of each inner iteration: one stored draw reused (the default), or with `fresh_masks` a new draw
    per iteration from the same per-step stream, as DiffuCoder's trainer does (a fresh t and mask each iteration)."""
    gen = mask_generator(cfg, step)
    first = draw_rollout_masks(cfg.estimator, r, gen)
    if not cfg.fresh_masks:
        return [first] * cfg.num_iterations
    return [first] + [draw_rollout_masks(cfg.estimator, r, gen) for _ in range(cfg.num_iterations - 1)]


def fixed_scores(cfg: Config, engine, adapter, r: Rollout, draws: list[MaskDraw]) -> dict:
    """What the loss holds fixed, computed before any update: {"old": {k: per micro-batch scores}, "ref": {...}}
    for each distinct draw k. Iteration 0's old scores are its own first forward (rho = 1: left None here); a later
    iteration with a draw of its own gets them from a no-gradient pass now, under the rollout policy."""
    distinct = [k for k, d in enumerate(draws) if all(d is not draws[j] for j in range(k))]
    n = len(_micro_slices(cfg, len(r.prompts)))
    return {"old": {k: scores_under(cfg, engine, adapter, r, draws[k]) if k else [None] * n for k in distinct},
            "ref": {k: reference_logps(cfg, engine, adapter, r, draws[k]) for k in distinct}}


def _draw_key(draws: list[MaskDraw], k: int) -> int:
    return next(j for j in range(k + 1) if draws[j] is draws[k])  # the first iteration with this draw


def optimize(cfg: Config, engine, adapter, r: Rollout, draws: list[MaskDraw], fixed: dict) -> dict:
    """num_iterations optimizer steps over the rollouts, iteration k under draws[k]; returns the averaged metrics."""
    slices = _micro_slices(cfg, len(r.prompts))
    engine.module.train()
    sums = {"loss": 0.0, "kl": 0.0, "clip_ratio/low_mean": 0.0, "clip_ratio/high_mean": 0.0, "clip_ratio/region_mean": 0.0}
    norms = []
    for k, draw in enumerate(draws):
        olds, ref = fixed["old"][_draw_key(draws, k)], fixed["ref"][_draw_key(draws, k)]
        for j, rows in enumerate(slices):
            logps = _logps(engine, adapter, r, rows, draw)  # [n, C]
            if olds[j] is None:
                olds[j] = logps.detach()  # rho = 1 at the first iteration (the policy has not moved yet)
            out = grpo_loss(logps, olds[j], None if ref is None else ref[j], r.advantages[rows].to(logps.device),
                            r.completion_mask[rows].to(logps.device), cfg.epsilon,
                            cfg.epsilon_high if cfg.epsilon_high is not None else cfg.epsilon, cfg.beta)
            engine.backward(out.loss)
            boundary = engine.is_gradient_accumulation_boundary()  # this micro-batch's step() updates the weights
            engine.step()
            if boundary:
                norms.append(grad_norm(engine))
            for key, value in zip(sums, (out.loss, out.kl, out.clip_low, out.clip_high, out.clip_region)):
                sums[key] += value.item()
    n = cfg.num_iterations * len(slices)
    out = {k: dist.all_reduce_mean(v / n) for k, v in sums.items()}
    norms = [x for x in norms if x is not None]  # before clipping: how hard max_grad_norm cuts
    return out | ({"grad_norm": sum(norms) / len(norms)} if norms else {})


def mask_generator(cfg: Config, step: int) -> torch.Generator:
    """The mask draws' own stream: how many numbers the sampler consumed (fewer steps in threshold mode) must not
    change the masks of a completion. (An int tuple: str hashes differ between processes.) On the CPU, where the
    rollouts are stored: the same masks on any machine; estimate_logps moves them to the model's device."""
    return torch.Generator(device="cpu").manual_seed(hash((cfg.seed, step, dist.rank(), 1)) % 2**62)


def sample(cfg: Config, engine, tokenizer, adapter, prompts: list[str], num_generations: int, temperature: float,
           seed: int) -> Rollout:
    """Completions of the current policy with the run's sampler settings (training rollouts and the probe)."""
    engine.module.eval()
    return generate_rollouts(engine.module, tokenizer, adapter, prompts, num_generations, cfg.max_completion_length,
                             cfg.diffusion_steps, SAMPLER_OPTIONS[cfg.sampler](cfg), temperature, cfg.chat_template,
                             seed, cfg.rollout_batch_size, sampler=cfg.sampler, fast=cfg.rollout)


def rl_step(cfg: Config, engine, tokenizer, adapter, problems: list[dict], step: int) -> dict:
    marks = [time.perf_counter()]  # one per phase end: where a step's time goes, logged as time/<phase>
    r = sample(cfg, engine, tokenizer, adapter, [p["prompt"] for p in problems], cfg.num_generations,
               cfg.temperature, hash((cfg.seed, step, dist.rank())) % 2**62)
    marks.append(time.perf_counter())
    columns = reward_columns(problems, cfg.num_generations)
    r.rewards, per_func = score(cfg.rewards, r.prompts, r.completions, r.completion_ids, columns)
    marks.append(time.perf_counter())
    r.advantages = ADVANTAGES[cfg.advantage](r.rewards, cfg.num_generations)
    # noise on every completion position (loss up to the first EOS), from the masks' own per-step stream
    draws = iteration_draws(cfg, r, step)
    fixed = fixed_scores(cfg, engine, adapter, r, draws)
    marks.append(time.perf_counter())
    metrics = optimize(cfg, engine, adapter, r, draws, fixed)
    marks.append(time.perf_counter())
    phases = ("generate", "reward", "reference", "optimize")
    group_std = r.rewards.view(-1, cfg.num_generations).std(1).mean().item()
    metrics.update({
        "reward": dist.all_reduce_mean(r.rewards.mean().item()),
        "reward_std": dist.all_reduce_mean(group_std),
        "frac_reward_zero_std": dist.all_reduce_mean(frac_zero_std(r.rewards, cfg.num_generations)),
        "completions/mean_length": dist.all_reduce_mean(r.completion_mask.sum(-1).float().mean().item()),
        "rollout/nfe": dist.all_reduce_mean(float(r.nfe)),
        **{f"rewards/{name}/mean": dist.all_reduce_mean(v.mean().item()) for name, v in per_func.items()},
        **{f"time/{name}": dist.all_reduce_max(b - a)  # the slowest rank sets the pace
           for name, a, b in zip(phases, marks, marks[1:])},
    })
    return metrics


def main(cfg: Config) -> Path:
    validate(cfg)
    dist.init_distributed()
    torch.manual_seed(cfg.seed + dist.rank())
    output_dir = Path(cfg.output_dir)
    problems, probe_problems = split_probe(load_rl_problems(cfg.data), cfg.probe)
    engine, tokenizer, adapter = build_engine(cfg, cfg.max_steps * cfg.num_iterations)
    state, logger = start_run(cfg, engine)
    step = state["step"]
    probe = partial(run_probe, cfg.probe, partial(sample, cfg, engine, tokenizer, adapter), cfg.rewards, probe_problems)
    if step == 0 and probe_due(cfg.probe, 0, cfg.max_steps):
        logger.log(probe(), 0)  # the starting policy
    per_step = cfg.prompts_per_rank * dist.world_size()
    bar = tqdm(total=cfg.max_steps, initial=step, desc="grpo", disable=not dist.is_main())
    while step < cfg.max_steps:
        t0 = time.perf_counter()
        start = step * per_step + dist.rank() * cfg.prompts_per_rank
        batch = [problems[(start + i) % len(problems)] for i in range(cfg.prompts_per_rank)]
        metrics = rl_step(cfg, engine, tokenizer, adapter, batch, step)
        step += 1
        metrics.update(lr=engine.get_lr()[0], step_seconds=time.perf_counter() - t0)
        probed = probe_due(cfg.probe, step, cfg.max_steps)
        if probed:
            metrics.update(probe())
        if step % cfg.log_every == 0 or step == cfg.max_steps or probed:
            logger.log(metrics, step)
        bar.update(1)
        bar.set_postfix(reward=f"{metrics['reward']:.3f}")
        if cfg.save_every and step % cfg.save_every == 0 and step < cfg.max_steps:
            save_checkpoint(engine, output_dir, step, step * per_step, cfg.keep_last)
    bar.close()
    return finish_run(cfg, engine, tokenizer, logger, step, step * per_step)


if __name__ == "__main__":
    run_cli(lambda: main(load_config(Config)))
