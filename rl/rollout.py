"""Rollouts: G completions per prompt from the diffusion sampler, with their mask draws stored alongside.

A `Rollout` batch holds everything the inner GRPO iterations need, so old / reference / current log-probs are computed
on exactly the same inputs and masks (drawn once here from a generator owned by the trainer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inference.sampler import SAMPLERS
from rl.estimators import EstimatorConfig, MaskDraw, draw_masks


@dataclass
class RolloutConfig:
    """The sampler's fast modes for rollouts (Fast-dLLM; off by default = the plain sampler, see inference/sampler.py).

    They change only how completions are sampled: what is stored and scored (completion ids, masks, estimator
    inputs) is built from the completions exactly as for plain rollouts.
    """

    threshold: float | None = None  # also commit every position with p >= threshold; a block ends once unmasked
    use_cache: bool = False  # prefix key/value cache: one full forward per block, later steps run the block only


@dataclass
class Rollout:
    prompts: list[str]  # [N] (each prompt repeated G times, prompt-major)
    completions: list[str]  # [N] decoded up to the first EOS
    prompt_ids: torch.Tensor  # [N, P] left-padded
    completion_ids: torch.Tensor  # [N, C]
    attention_mask: torch.Tensor  # [N, P + C] 0 on left padding only (post-EOS tokens were attended when sampled)
    completion_mask: torch.Tensor  # [N, C] bool: the loss's tokens, up to and including the first EOS (TRL's mask)
    rewards: torch.Tensor | None = None  # [N]
    advantages: torch.Tensor | None = None  # [N]
    draw: MaskDraw | None = None
    old_logps: torch.Tensor | None = None  # [N, C]
    ref_logps: torch.Tensor | None = None  # [N, C]
    nfe: int = 0  # sampler forward evaluations spent on these rollouts (summed over chunks)


def completion_mask_until_eos(completion_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """[N, C] bool: True up to and including the first EOS (all True when there is none)."""
    is_eos = completion_ids == eos_id
    after_first = (is_eos.cumsum(-1) - is_eos.long()) > 0
    return ~after_first


def draw_rollout_masks(cfg: EstimatorConfig, r: Rollout, generator: torch.Generator | None = None) -> MaskDraw:
    """The stored mask draw of a rollout batch. The noise covers EVERY completion position, the EOS run after the first
    EOS included, as DiffuCoder's trainer does (every non-prompt position is maskable): were post-EOS tokens always
    visible, every pass would show the completion's length and the estimate would be conditioned on it. The loss still
    averages over r.completion_mask (up to the first EOS)."""
    every_position = torch.ones_like(r.completion_mask)  # [N, C] completions have no padding: all were sampled
    return draw_masks(cfg, every_position, r.prompt_ids.shape[1], generator)


def encode_prompts(tokenizer, prompts: list[str], chat_template: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded prompt ids and attention mask [N, P]."""
    if chat_template and tokenizer.chat_template:
        prompts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                 add_generation_prompt=True) for p in prompts]
    tokenizer.padding_side = "left"
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    return enc["input_ids"], enc["attention_mask"]


@torch.no_grad()
def generate_rollouts(model, tokenizer, prompts: list[str], num_generations: int, gen_length: int, steps: int,
                      sampler_options: dict, temperature: float, chat_template: bool, mask_id: int,
                      generator: torch.Generator | None, chunk_size: int, sampler: str = "llada",
                      fast: RolloutConfig | None = None) -> Rollout:
    """G samples for each prompt (prompt-major), generated chunk_size sequences at a time.

    `sampler` names a mode of inference.sampler.SAMPLERS; `sampler_options` are that mode's own knobs
    (llada: block_length; dream: alg, ...); `fast` the LLaDA sampler's Fast-dLLM modes (threshold, prefix cache)."""
    fast = fast or RolloutConfig()
    fast_options = {} if fast == RolloutConfig() else {"threshold": fast.threshold, "use_cache": fast.use_cache}
    repeated = [p for p in prompts for _ in range(num_generations)]
    prompt_ids, prompt_att = encode_prompts(tokenizer, repeated, chat_template)
    device = next(model.parameters()).device
    outs, nfe = [], 0
    for s in range(0, len(repeated), chunk_size):
        out = SAMPLERS[sampler](model, prompt_ids[s : s + chunk_size].to(device),
                                attention_mask=prompt_att[s : s + chunk_size].to(device), steps=steps,
                                gen_length=gen_length, temperature=temperature, mask_id=mask_id, generator=generator,
                                **sampler_options, **fast_options)
        nfe += out.nfe
        outs.append(out.sequences[:, prompt_ids.shape[1] :].cpu())
    completion_ids = torch.cat(outs)  # [N, C]
    completion_mask = completion_mask_until_eos(completion_ids, tokenizer.eos_token_id)
    completions = [tokenizer.decode(ids[m], skip_special_tokens=True) for ids, m in zip(completion_ids, completion_mask)]
    return Rollout(repeated, completions, prompt_ids, completion_ids, torch.cat([prompt_att, torch.ones_like(completion_ids)], -1),
                   completion_mask, nfe=nfe)
