"""Forward processes (maskers): pure functions from clean ids to (noisy ids, mask, per-token masking probability).

All maskers share one signature, `masker(input_ids, maskable, p_mask, mask_id, generator=None, weights=None,
span_ids=None, regions=None) -> MaskedBatch`, so the trainer picks one by name from MASKERS.

- uniform (LLaDA): every maskable token iid with probability p_mask[b]; reports p = p_mask[b].
- uniform-exact: exactly N = floor(p_mask[b] * L_b) of the L_b maskable tokens, uniformly; reports p = N / L_b.
- ast (TreeDiff Algorithm 1, region-aware): code tokens (regions == code; all maskable tokens if no regions) get an
  exact budget N = floor(p_mask * L_code) drawn by weighted sampling without replacement (exponential keys
  -log(u) / w, the N smallest), zero-weight code tokens only as a uniform fallback; other maskable tokens (reasoning,
  text, EOS padding) iid with p_mask; the prompt never. Reports p = N / L_code for code tokens (the sample's actual
  masking rate: the 1/p loss weight follows the forward process used) and p_mask elsewhere.
- ast-span (Algorithm 2): shuffled AST node spans (tokens sharing their innermost tagged node), each masked whole
  with probability equal to its tier weight if none of its tokens is masked yet; a span that would overshoot N is
  skipped (so the budget stays exact), then a uniform fill up to N. Reports like ast.
- complementary_masks: a mask and its exact complement over the maskable positions (coupled-GRPO).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from data.examples import REGION_IDS

CODE = REGION_IDS["code"]
_FALLBACK = 1e6  # key offset: zero-weight tokens are only drawn after every weighted one


@dataclass
class MaskedBatch:
    noisy_ids: torch.Tensor  # [B, L] long, masked positions replaced by mask_id
    is_masked: torch.Tensor  # [B, L] bool
    p_mask: torch.Tensor  # [B, L] float: the masking probability the loss divides by


def _apply(input_ids: torch.Tensor, is_masked: torch.Tensor, p: torch.Tensor, mask_id: int) -> MaskedBatch:
    return MaskedBatch(input_ids.masked_fill(is_masked, mask_id), is_masked, p)


def smallest_k(keys: torch.Tensor, eligible: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """[B, L] bool: the k[b] eligible positions with the smallest keys in each row."""
    keys = keys.masked_fill(~eligible, float("inf"))
    order = keys.argsort(dim=1)  # [B, L]
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(keys.shape[1]).expand_as(order))
    return (rank < k[:, None]) & eligible


def mask_uniform(input_ids, maskable, p_mask, mask_id, generator=None, weights=None, span_ids=None, regions=None):
    u = torch.rand(input_ids.shape, generator=generator)  # [B, L]
    is_masked = (u < p_mask[:, None]) & maskable
    return _apply(input_ids, is_masked, p_mask[:, None].expand(input_ids.shape).clone(), mask_id)


def mask_uniform_exact(input_ids, maskable, p_mask, mask_id, generator=None, weights=None, span_ids=None,
                       regions=None):
    L = maskable.sum(1)  # [B]
    n = torch.floor(p_mask * L).long()  # [B]
    is_masked = smallest_k(torch.rand(input_ids.shape, generator=generator), maskable, n)
    rate = (n / L.clamp_min(1)).float()
    return _apply(input_ids, is_masked, rate[:, None].expand(input_ids.shape).clone(), mask_id)


def _code_and_rest(maskable, regions):
    code = maskable if regions is None else maskable & (regions == CODE)
    return code, maskable & ~code


def _rest_and_report(input_ids, code, rest, is_code_masked, n, p_mask, mask_id, generator) -> MaskedBatch:
    """Mask non-code maskable tokens iid with p_mask; report N / L_code on code tokens, p_mask elsewhere."""
    rest_masked = (torch.rand(input_ids.shape, generator=generator) < p_mask[:, None]) & rest
    rate = (n / code.sum(1).clamp_min(1)).float()  # [B]
    p = torch.where(code, rate[:, None], p_mask[:, None])  # [B, L]
    return _apply(input_ids, is_code_masked | rest_masked, p, mask_id)


def mask_ast(input_ids, maskable, p_mask, mask_id, generator=None, weights=None, span_ids=None, regions=None):
    code, rest = _code_and_rest(maskable, regions)
    n = torch.floor(p_mask * code.sum(1)).long()  # [B] exact budget over code tokens
    w = torch.ones(input_ids.shape) if weights is None else weights.float()
    u = torch.rand(input_ids.shape, generator=generator).clamp_min(1e-12)
    keys = torch.where(w > 0, -torch.log(u) / w.clamp_min(1e-12), _FALLBACK + u)  # [B, L]
    return _rest_and_report(input_ids, code, rest, smallest_k(keys, code, n), n, p_mask, mask_id, generator)


def _span_row(code: torch.Tensor, spans: torch.Tensor, w: torch.Tensor, n: int, generator) -> torch.Tensor:
    """Algorithm 2 for one row: [L] bool with exactly n code tokens masked."""
    masked = torch.zeros_like(code)
    ids = torch.unique(spans[code & (spans >= 0)])
    count = 0
    for sid in ids[torch.randperm(len(ids), generator=generator)].tolist():
        members = code & (spans == sid)
        size = int(members.sum())
        if count + size > n or masked[members].any():
            continue
        if torch.rand((), generator=generator) < w[members].max():
            masked |= members
            count += size
        if count == n:
            break
    fill = smallest_k(torch.rand(code.shape, generator=generator)[None], (code & ~masked)[None],
                      torch.tensor([n - count]))[0]
    return masked | fill


def mask_ast_span(input_ids, maskable, p_mask, mask_id, generator=None, weights=None, span_ids=None, regions=None):
    code, rest = _code_and_rest(maskable, regions)
    n = torch.floor(p_mask * code.sum(1)).long()  # [B]
    w = torch.ones(input_ids.shape) if weights is None else weights.float()
    spans = torch.full(input_ids.shape, -1) if span_ids is None else span_ids
    rows = [_span_row(code[b], spans[b], w[b], int(n[b]), generator) for b in range(input_ids.shape[0])]
    return _rest_and_report(input_ids, code, rest, torch.stack(rows), n, p_mask, mask_id, generator)


def complementary_masks(maskable: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None):
    """(m1, m2) [B, L]: m1 masks maskable tokens with u < t[b], m2 exactly the other maskable tokens."""
    u = torch.rand(maskable.shape, generator=generator)  # [B, L]
    m1 = (u < t[:, None]) & maskable
    return m1, maskable & ~m1


MASKERS = {"uniform": mask_uniform, "uniform-exact": mask_uniform_exact, "ast": mask_ast, "ast-span": mask_ast_span}
