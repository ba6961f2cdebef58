"""A straightforward transcription of LLaDA's reference sampler (generate.py), written from the spec's description.

It is the oracle for the equality tests and the baseline of scripts/bench/sampler.py, so it stays deliberately naive:
full-sequence forward every step, noise and confidences over the whole [B, L, V] tensor, a per-row top-k loop.
Differences from the reference, all intentional: an optional torch.Generator instead of the global RNG (same draws in
the same order), eos/eot ids as arguments instead of LLaDA's hard-coded ids, and its two known bugs fixed — the
chained assignment in confidence_eos_eot_inf (here both EOS and EOT get probability 0 in the confidence) and the
NameError with cfg_scale > 0 and no attention mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def add_gumbel_noise(logits: torch.Tensor, temperature: float, generator=None) -> torch.Tensor:
    if temperature == 0:
        return logits
    logits = logits.to(torch.float64)
    noise = torch.rand(logits.shape, dtype=torch.float64, device=logits.device, generator=generator)
    return logits.exp() / (-torch.log(noise)) ** temperature


def num_transfer_tokens(mask_index: torch.Tensor, steps: int) -> torch.Tensor:
    mask_num = mask_index.sum(dim=1, keepdim=True)
    base, remainder = mask_num // steps, mask_num % steps
    out = torch.zeros(mask_num.size(0), steps, device=mask_index.device, dtype=torch.int64) + base
    for i in range(mask_num.size(0)):
        out[i, : remainder[i]] += 1
    return out


@torch.no_grad()
def reference_generate(model, prompt, attention_mask=None, steps=128, gen_length=128, block_length=128,
                       temperature=0.0, cfg_scale=0.0, remasking="low_confidence", mask_id=126336,
                       logits_eos_inf=False, confidence_eos_eot_inf=False, eos_id=126081, eot_id=126348,
                       generator=None):
    B, P = prompt.shape
    x = torch.full((B, P + gen_length), mask_id, dtype=torch.long, device=prompt.device)
    x[:, :P] = prompt.clone()
    if attention_mask is not None:
        attention_mask = torch.cat([attention_mask, torch.ones(B, gen_length, dtype=attention_mask.dtype,
                                                               device=prompt.device)], dim=-1)
    prompt_index = x != mask_id
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    steps = steps // num_blocks
    for nb in range(num_blocks):
        block_mask_index = x[:, P + nb * block_length: P + (nb + 1) * block_length] == mask_id
        ntt = num_transfer_tokens(block_mask_index, steps)
        for i in range(steps):
            mask_index = x == mask_id
            if cfg_scale > 0.0:
                un_x = x.clone()
                un_x[prompt_index] = mask_id
                x_ = torch.cat([x, un_x], dim=0)
                att_ = None if attention_mask is None else torch.cat([attention_mask, attention_mask], dim=0)
                logits = model(x_, attention_mask=att_).logits
                logits, un_logits = torch.chunk(logits, 2, dim=0)
                logits = un_logits + (cfg_scale + 1) * (logits - un_logits)
            else:
                logits = model(x, attention_mask=attention_mask).logits
            if logits_eos_inf:
                logits[:, :, eos_id] = -torch.inf
            logits_with_noise = add_gumbel_noise(logits, temperature, generator)
            x0 = torch.argmax(logits_with_noise, dim=-1)
            if confidence_eos_eot_inf:
                logits[:, :, eos_id] = -torch.inf
                if eot_id is not None:
                    logits[:, :, eot_id] = -torch.inf
            if remasking == "low_confidence":
                p = F.softmax(logits, dim=-1)
                x0_p = torch.squeeze(torch.gather(p, dim=-1, index=torch.unsqueeze(x0, -1)), -1)
            elif remasking == "random":
                x0_p = torch.rand((x0.shape[0], x0.shape[1]), device=x0.device, generator=generator)
            else:
                raise NotImplementedError(remasking)
            x0_p[:, P + (nb + 1) * block_length:] = -torch.inf
            x0 = torch.where(mask_index, x0, x)
            confidence = torch.where(mask_index, x0_p, -torch.inf)
            transfer_index = torch.zeros_like(x0, dtype=torch.bool)
            for j in range(confidence.shape[0]):
                _, select_index = torch.topk(confidence[j], k=int(ntt[j, i]))
                transfer_index[j, select_index] = True
            x[transfer_index] = x0[transfer_index]
    return x
