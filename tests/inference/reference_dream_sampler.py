"""A straightforward transcription of Dream's reference `diffusion_generate` (_sample in Dream-org/Dream's
generation_utils.py), written from its description; the oracle for tests/inference/test_sampler_dream.py.

Deliberately naive, as the reference: the full canvas every step (also steps that commit nothing), the reference's 4D
padding mask and token positions passed to the model, logits shifted by concatenation, a batched top-k over the
whole row. Intentional differences: an optional torch.Generator instead of the global RNG (same draws in the same
order), and the mask token is never chosen as a token (probability 0 in the argmax / draw; its mass stays in the
softmax), as in inference/sampler_dream.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _top_p(logits, top_p):
    sorted_logits, sorted_idx = torch.sort(logits, descending=True)
    cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cum > top_p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = 0
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, sorted_idx, remove)
    return logits.masked_fill(mask, torch.finfo(logits.dtype).min)


def _top_k(logits, top_k):
    top_k = min(top_k, logits.size(-1))
    return logits.masked_fill(logits < torch.topk(logits, top_k)[0][..., -1, None], torch.finfo(logits.dtype).min)


def _sample(logits, mask_id, temperature=0.0, top_p=None, top_k=None, margin=False, neg_entropy=False, generator=None):
    if temperature > 0:
        logits = logits / temperature
    if top_p is not None and top_p < 1:
        logits = _top_p(logits, top_p)
    if top_k is not None:
        logits = _top_k(logits, top_k)
    probs = torch.softmax(logits, dim=-1)
    pickable = probs.clone()
    pickable[:, mask_id] = 0
    if temperature > 0:
        x0 = torch.multinomial(pickable, 1, True, generator=generator).squeeze(-1)
    else:
        x0 = pickable.argmax(dim=-1)
    confidence = torch.gather(probs, -1, x0.unsqueeze(-1)).squeeze(-1)
    if margin:
        sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
        confidence = sorted_probs[:, 0] - sorted_probs[:, 1]
    if neg_entropy:
        confidence = torch.sum(probs * torch.log(probs + 1e-10), dim=-1)
    return confidence, x0


@torch.no_grad()
def reference_diffusion_generate(model, input_ids, attention_mask=None, max_new_tokens=16, steps=16, eps=1e-3,
                                 alg="origin", alg_temp=None, temperature=0.0, top_p=None, top_k=None,
                                 mask_token_id=None, generator=None):
    max_length = input_ids.shape[1] + max_new_tokens
    x = F.pad(input_ids, (0, max_length - input_ids.shape[1]), value=mask_token_id)
    if attention_mask is not None and torch.any(attention_mask == 0.0):
        attention_mask = F.pad(attention_mask, (0, max_length - attention_mask.shape[1]), value=1.0)
        tok_idx = attention_mask.long().cumsum(-1) - 1
        tok_idx.masked_fill_(attention_mask == 0, 1)
        attention_mask = torch.logical_and(attention_mask.unsqueeze(1).unsqueeze(-2),
                                           attention_mask.unsqueeze(1).unsqueeze(-1))
    else:
        tok_idx = None
        attention_mask = "full"
    timesteps = torch.linspace(1, eps, steps + 1, device=x.device)
    for i in range(steps):
        mask_index = x == mask_token_id
        logits = model(x, attention_mask, tok_idx).logits
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        mask_logits = logits[mask_index]
        t, s = timesteps[i], timesteps[i + 1]
        if alg == "origin":
            p_transfer = 1 - s / t if i < steps - 1 else 1
            x0 = torch.zeros_like(x[mask_index], dtype=torch.long) + mask_token_id
            transfer = torch.rand(*x0.shape, device=x.device, generator=generator) < p_transfer
            _, x0[transfer] = _sample(mask_logits[transfer], mask_token_id, temperature, top_p, top_k,
                                      generator=generator)
            x[mask_index] = x0.clone()
            continue
        confidence, x0 = _sample(mask_logits, mask_token_id, temperature, top_p, top_k,
                                 margin=alg == "topk_margin", neg_entropy=alg == "entropy", generator=generator)
        num_mask_token = mask_index.sum() / mask_index.shape[0]
        n = int(num_mask_token * (1 - s / t)) if i < steps - 1 else int(num_mask_token)
        full_confidence = torch.full_like(x, -torch.inf, dtype=logits.dtype)
        full_confidence[mask_index] = confidence
        if n > 0:
            if alg_temp is None or alg_temp == 0:
                _, transfer_index = torch.topk(full_confidence, n)
            else:
                full_confidence = F.softmax(full_confidence / alg_temp, dim=-1)
                transfer_index = torch.multinomial(full_confidence, num_samples=n, generator=generator)
            x_ = torch.zeros_like(x, dtype=torch.long) + mask_token_id
            x_[mask_index] = x0.clone()
            rows = torch.arange(x.size(0), device=x.device).unsqueeze(1).expand_as(transfer_index)
            x[rows, transfer_index] = x_[rows, transfer_index]
    return x
