"""Rollouts: G completions per prompt from the diffusion sampler, with their mask draws stored alongside.

A `Rollout` batch holds everything the inner GRPO iterations need, so old / reference / current log-probs are computed
on exactly the same inputs and masks (drawn once here from a generator owned by the trainer).
Sampling: all rollouts of a call in one sampler batch (or batches of `batch_size`), each row with its own generator on
the model's device, seeded from (seed, row): a row's random draws do not depend on which rows share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from inference.adapters import ModelAdapter
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
    completions: list[str]  # [N] decoded up to the first stop or pad token
    prompt_ids: torch.Tensor  # [N, P] left-padded
    completion_ids: torch.Tensor  # [N, C]
    attention_mask: torch.Tensor  # [N, P + C] 0 on left padding only (post-EOS tokens were attended when sampled)
    completion_mask: torch.Tensor  # [N, C] bool: the loss's tokens, up to and including the first stop (TRL's mask)
    rewards: torch.Tensor | None = None  # [N]
    advantages: torch.Tensor | None = None  # [N]
    nfe: int = 0  # sampler forward evaluations spent on these rollouts (summed over sampler batches)


def completion_mask(completion_ids: torch.Tensor, stop_ids: Sequence[int], pad_id: int | None = None) -> torch.Tensor:
    """[N, C] bool: a completion's own tokens. True up to and including the first stop id (EOS, <|im_end|>, ...: TRL
    keeps the first EOS); a pad id that is not a stop id (DiffuCoder's <|dlm_pad|>) also ends the completion but is not
    part of it. All True when neither occurs."""
    is_stop = torch.isin(completion_ids, torch.tensor(list(stop_ids), device=completion_ids.device))  # [N, C]
    before_stop = (is_stop.cumsum(-1) - is_stop.long()) == 0  # up to and including the first stop
    if pad_id is None or pad_id in stop_ids:
        return before_stop
    return before_stop & ((completion_ids == pad_id).cumsum(-1) == 0)  # strictly before the first pad


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


def row_generators(device: torch.device, seed: int, n: int) -> list[torch.Generator]:
    """One generator per rollout row on `device` (where the sampler draws), seeded from (seed, row)."""
    return [torch.Generator(device=device).manual_seed(hash((seed, i)) % 2**62) for i in range(n)]


@torch.no_grad()
def generate_rollouts(model, tokenizer, adapter: ModelAdapter, prompts: list[str], num_generations: int,
                      gen_length: int, steps: int, sampler_options: dict, temperature: float, chat_template: bool,
                      seed: int, batch_size: int | None = None, sampler: str = "llada",
                      fast: RolloutConfig | None = None) -> Rollout:
    """G samples for each prompt (prompt-major), all in one sampler batch, or `batch_size` rows at a time.

    Every row draws from its own generator (seeded from (seed, row)), so the completions do not depend on batch_size
    beyond the float rounding of different batch shapes. `sampler` names a mode of inference.sampler.SAMPLERS;
    `sampler_options` are that mode's own knobs (llada: block_length; dream: alg, ...); `fast` the LLaDA sampler's
    Fast-dLLM modes (threshold, prefix cache). Completions end at the adapter's stop and pad tokens."""
    fast = fast or RolloutConfig()
    fast_options = {} if fast == RolloutConfig() else {"threshold": fast.threshold, "use_cache": fast.use_cache}
    repeated = [p for p in prompts for _ in range(num_generations)]
    prompt_ids, prompt_att = encode_prompts(tokenizer, repeated, chat_template)
    device = next(model.parameters()).device
    gens = row_generators(device, seed, len(repeated))
    step = batch_size or len(repeated)
    outs, nfe = [], 0
    for s in range(0, len(repeated), step):
        out = SAMPLERS[sampler](model, prompt_ids[s : s + step].to(device),
                                attention_mask=prompt_att[s : s + step].to(device), steps=steps,
                                gen_length=gen_length, temperature=temperature, mask_id=adapter.mask_token_id,
                                generator=gens[s : s + step], **sampler_options, **fast_options)
        nfe += out.nfe
        outs.append(out.sequences[:, prompt_ids.shape[1] :].cpu())
    completion_ids = torch.cat(outs)  # [N, C]
    mask = completion_mask(completion_ids, adapter.stop_ids(tokenizer), adapter.pad_id(tokenizer))
    completions = [tokenizer.decode(ids[m], skip_special_tokens=True) for ids, m in zip(completion_ids, mask)]
    attention = torch.cat([prompt_att, torch.ones_like(completion_ids)], -1)
    return Rollout(repeated, completions, prompt_ids, completion_ids, attention, mask, nfe=nfe)
