"""Forward processes (maskers): pure functions from clean ids to (noisy ids, mask, per-token masking probability).

All maskers share one signature, `masker(input_ids, maskable, p_mask, mask_id, generator=None, weights=None,
span_ids=None, regions=None, spans=None) -> MaskedBatch`, so the trainer picks one by name from MASKERS. Shapes:
input_ids / maskable / weights / span_ids / regions [B, L], p_mask [B], spans [B, S, 3] (see pad_spans).

| masker | what is masked | MaskedBatch.p_mask (what the loss divides by) |
|---|---|---|
| uniform (the LLaDA baseline) | every maskable token iid with prob p_mask[b] | p_mask[b] |
| uniform-exact | exactly N = floor(p_mask[b] * L_b) of the L_b maskable tokens, uniformly | N / L_b |
| ast (TreeDiff Alg. 1) | code: exactly N = floor(p_mask * L_code) by tier-weighted sampling w/o replacement | code: N / L_code |
| ast-span (Alg. 2) | code: exactly N by whole AST node spans, then a uniform fill | code: N / L_code |

ast / ast-span are region-aware: code tokens (regions == code; every maskable token when regions is None) follow
the AST process, other maskable tokens (reasoning, text, EOS padding) are masked iid with p_mask and report p_mask;
the prompt (maskable False) never. N / L_code is the sample's actual code masking rate: the spec asks the 1/p loss
weight to follow the forward process used, and a per-token inclusion probability of the weighted draw has no
closed form, so the per-sample rate is what the loss divides by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from data.examples import REGION_IDS

CODE = REGION_IDS["code"]
_FALLBACK = 1e6  # key offset: zero-weight tokens are drawn only after every weighted one (Alg. 1 step 4)
Tensor = torch.Tensor


@dataclass
class MaskedBatch:
    noisy_ids: Tensor  # [B, L] long, masked positions replaced by mask_id
    is_masked: Tensor  # [B, L] bool
    p_mask: Tensor  # [B, L] float: the masking probability the loss divides by (per masker: module table)


def _apply(input_ids: Tensor, is_masked: Tensor, p: Tensor, mask_id: int) -> MaskedBatch:
    return MaskedBatch(input_ids.masked_fill(is_masked, mask_id), is_masked, p)


def budget(p_mask: Tensor, scope: Tensor) -> Tensor:
    """[B] long: N = floor(p_mask * L) over the L in-scope tokens of each row."""
    return torch.floor(p_mask * scope.sum(1)).long()


def smallest_k(keys: Tensor, eligible: Tensor, k: Tensor) -> Tensor:
    """[B, L] bool: the k[b] eligible positions with the smallest keys in each row (O(L log L), batched)."""
    keys = keys.masked_fill(~eligible, float("inf"))  # [B, L]
    order = keys.argsort(dim=1)  # [B, L]
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(keys.shape[1], device=keys.device).expand_as(order))
    return (rank < k[:, None]) & eligible


def mask_uniform(input_ids: Tensor, maskable: Tensor, p_mask: Tensor, mask_id: int,
                 generator: torch.Generator | None = None, weights: Tensor | None = None, **_) -> MaskedBatch:
    """LLaDA: each maskable token iid Bernoulli(p_mask[b]); weights ignored; reports p_mask[b]."""
    u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)  # [B, L]
    is_masked = (u < p_mask[:, None]) & maskable
    return _apply(input_ids, is_masked, p_mask[:, None].expand(input_ids.shape).clone(), mask_id)


def mask_uniform_exact(input_ids: Tensor, maskable: Tensor, p_mask: Tensor, mask_id: int,
                       generator: torch.Generator | None = None, weights: Tensor | None = None, **_) -> MaskedBatch:
    """Exactly N = floor(p_mask * L) uniformly chosen maskable tokens; reports N / L."""
    n = budget(p_mask, maskable)  # [B]
    is_masked = smallest_k(torch.rand(input_ids.shape, generator=generator, device=input_ids.device), maskable, n)
    rate = (n / maskable.sum(1).clamp_min(1)).float()  # [B]
    return _apply(input_ids, is_masked, rate[:, None].expand(input_ids.shape).clone(), mask_id)


def _code_and_rest(maskable: Tensor, regions: Tensor | None) -> tuple[Tensor, Tensor]:
    code = maskable if regions is None else maskable & (regions == CODE)  # [B, L]
    return code, maskable & ~code


def _compose(input_ids: Tensor, code: Tensor, rest: Tensor, code_masked: Tensor, n: Tensor, p_mask: Tensor,
             mask_id: int, generator: torch.Generator | None) -> MaskedBatch:
    """Region-aware composition: non-code maskable tokens iid with p_mask; report N / L_code on code tokens."""
    u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)  # [B, L]
    rest_masked = (u < p_mask[:, None]) & rest  # [B, L]
    rate = (n / code.sum(1).clamp_min(1)).float()  # [B]
    p = torch.where(code, rate[:, None], p_mask[:, None])  # [B, L]
    return _apply(input_ids, code_masked | rest_masked, p, mask_id)


def weighted_exact(code: Tensor, weights: Tensor, n: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """[B, L] bool, Algorithm 1: n[b] distinct code tokens, weighted sampling without replacement.

    Exponential keys E / w, E ~ Exp(1) (= -log(u) / w): the n smallest are a draw without replacement with
    probabilities proportional to w (equivalent to Gumbel-top-k on log w). Zero-weight tokens get keys past every
    weighted one, so they are drawn uniformly only when fewer than n tokens carry weight (the fallback).
    exponential_ rather than -log(rand): same law, and torch.log was ~500x slower on small CPU tensors here.
    Keys are float64: in float32, _FALLBACK + e keeps e only to 1/16, so tied fallback keys went to the lowest
    position and the fallback was not uniform."""
    e = torch.empty(code.shape, device=code.device).exponential_(generator=generator).double()  # [B, L] iid Exp(1)
    keys = torch.where(weights > 0, e / weights.double().clamp_min(1e-12), _FALLBACK + e)
    return smallest_k(keys, code, n)


def mask_ast(input_ids: Tensor, maskable: Tensor, p_mask: Tensor, mask_id: int,
             generator: torch.Generator | None = None, weights: Tensor | None = None, regions: Tensor | None = None,
             **_) -> MaskedBatch:
    """TreeDiff Algorithm 1 on code tokens (exactly N = floor(p_mask * L_code)), iid p_mask elsewhere."""
    code, rest = _code_and_rest(maskable, regions)
    n = budget(p_mask, code)  # [B]
    w = torch.ones(input_ids.shape, device=input_ids.device) if weights is None else weights.float()  # [B, L]
    return _compose(input_ids, code, rest, weighted_exact(code, w, n, generator), n, p_mask, mask_id, generator)


def pad_spans(rows: list[list[tuple[int, int, float]]]) -> Tensor:
    """[B, S, 3] float (token start, end exclusive, weight) from per-row span lists; padding rows are (0, 0, 0)."""
    out = torch.zeros(len(rows), max((len(r) for r in rows), default=0), 3)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.float32)
    return out


def spans_from_ids(span_ids: Tensor, weights: Tensor) -> Tensor:
    """[B, S, 3] spans from a per-token partition [B, L]: each maximal run of tokens sharing a span id >= 0, with
    the weight of its first token (used when no nested span table was stored)."""
    B, L = span_ids.shape
    start = torch.ones_like(span_ids, dtype=torch.bool)  # [B, L] a run starts here
    start[:, 1:] = span_ids[:, 1:] != span_ids[:, :-1]
    rows = []
    for b in range(B):
        s = torch.nonzero(start[b]).flatten()  # [R]
        e = torch.cat([s[1:], torch.tensor([L])])
        keep = span_ids[b, s] >= 0
        rows.append(torch.stack([s[keep].float(), e[keep].float(), weights[b, s[keep]].float()], 1).tolist())
    return pad_spans(rows)


def span_phase(code: Tensor, spans: Tensor, n: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """[B, L] bool, Algorithm 2 phase 1: visit the spans [B, S, 3] in random order; accept one with probability
    its weight if none of its code tokens is masked yet and it does not overshoot n (so the budget stays exact;
    the paper stops at >= n); stop at n. Random draws are batched, only the accepted spans are visited in Python.
    CPU tensors only (the visit runs in NumPy): SFT masks its batches on the CPU and moves them to the model."""
    B, S, _ = spans.shape
    order = torch.rand(B, S, generator=generator).argsort(1)  # [B, S] shuffled visiting order
    accept = torch.rand(B, S, generator=generator) < spans[..., 2]  # [B, S] Bernoulli(tier weight)
    out = np.zeros(code.shape, dtype=bool)
    code_np, spans_np = code.numpy(), spans[..., :2].long().numpy()
    for b in range(B):
        count, target, masked, row = 0, int(n[b]), out[b], code_np[b]
        for k in order[b][accept[b][order[b]]].tolist():
            s, e = spans_np[b, k]
            size = int(row[s:e].sum())
            if size == 0 or count + size > target or masked[s:e].any():
                continue
            masked[s:e] = row[s:e]
            count += size
            if count == target:
                break
    return torch.from_numpy(out)


def mask_ast_span(input_ids: Tensor, maskable: Tensor, p_mask: Tensor, mask_id: int,
                  generator: torch.Generator | None = None, weights: Tensor | None = None,
                  span_ids: Tensor | None = None, regions: Tensor | None = None, spans: Tensor | None = None,
                  **_) -> MaskedBatch:
    """TreeDiff Algorithm 2 on code tokens: whole AST node spans (the nested table `spans` [B, S, 3] if given, else
    runs of span_ids), then a uniform fill to exactly N; iid p_mask elsewhere."""
    code, rest = _code_and_rest(maskable, regions)
    n = budget(p_mask, code)  # [B]
    if spans is None:
        w = torch.ones(input_ids.shape) if weights is None else weights.float()
        ids = torch.full(input_ids.shape, -1) if span_ids is None else span_ids
        spans = spans_from_ids(ids, w)
    phase1 = span_phase(code, spans, n, generator)  # [B, L]
    fill = smallest_k(torch.rand(input_ids.shape, generator=generator), code & ~phase1, n - phase1.sum(1))
    return _compose(input_ids, code, rest, phase1 | fill, n, p_mask, mask_id, generator)


def complementary_masks(maskable: Tensor, t: Tensor, generator: torch.Generator | None = None
                        ) -> tuple[Tensor, Tensor]:
    """Coupled-GRPO pair (m1, m2) [B, L]: u ~ U(0, 1) per token, m1 = (u < t[b]) & maskable, m2 = maskable & ~m1, so
    m1 | m2 == maskable and m1 & m2 is empty (each maskable token is masked in exactly one of the two passes)."""
    u = torch.rand(maskable.shape, generator=generator, device=maskable.device)  # [B, L]
    m1 = (u < t[:, None]) & maskable
    return m1, maskable & ~m1


Masker = Callable[..., MaskedBatch]
MASKERS: dict[str, Masker] = {
    "uniform": mask_uniform,
    "uniform-exact": mask_uniform_exact,
    "ast": mask_ast,
    "ast-span": mask_ast_span,
}
