"""Empirical per-tier masking rates, the measurement behind the tier-ordering check and scripts/bench/masking.py.

Pooling masked counts over a corpus mixes sample composition into the rates (a control token in a sample full of
other control tokens competes only with them). Within one sample, weighted sampling without replacement includes a
token with probability increasing in its weight, so the per-sample tier rates are ordered in expectation; their
average over the samples that contain every tier is the rate reported here.
"""

from __future__ import annotations

import torch

from corruption.ast_tiers import TIERS


def tier_rates(is_masked: torch.Tensor, tier_ids: torch.Tensor, tiers: list[int]) -> dict[str, float]:
    """Mean per-sample masking rate of each tier over rows that contain all `tiers` ([D, B, L] or [B, L] inputs)."""
    is_masked, tier_ids = is_masked.reshape(-1, is_masked.shape[-1]), tier_ids.reshape(-1, tier_ids.shape[-1])
    counts = torch.stack([(tier_ids == t).sum(1) for t in tiers], 1).float()  # [R, T]
    hits = torch.stack([(is_masked & (tier_ids == t)).sum(1) for t in tiers], 1).float()
    rows = (counts > 0).all(1)
    rates = (hits[rows] / counts[rows]).mean(0)
    return {TIERS[t]: rates[i].item() for i, t in enumerate(tiers)}


# Categories of completion tokens for per-tier measurements: the AST tiers, then "other" (completion tokens outside
# a parsed code region: EOS, text, reasoning, and code that does not parse, which token_tiers labels tier 0).
CATEGORIES = [*TIERS, "other"]
OTHER = len(TIERS)


def token_categories(
    tier_ids: torch.Tensor, maskable: torch.Tensor, parsed_ok: torch.Tensor | None = None
) -> torch.Tensor:
    """[B, L] long: the category (index into CATEGORIES) of each maskable token, -1 elsewhere (prompt, padding).
    tier_ids [B, L] as example_token_weights stores them (-1: not a code token); parsed_ok [B] bool (rows whose code
    did not parse count as "other", not as the default tier their fallback labels them with)."""
    cat = torch.where(tier_ids >= 0, tier_ids, torch.full_like(tier_ids, OTHER))  # [B, L]
    if parsed_ok is not None:
        cat = torch.where(parsed_ok[:, None], cat, torch.full_like(cat, OTHER))
    return torch.where(maskable, cat, torch.full_like(cat, -1))


def category_sums(
    values: torch.Tensor, selected: torch.Tensor, categories: torch.Tensor, num: int = len(CATEGORIES)
) -> torch.Tensor:
    """[B, num]: per row, the sum of `values` [B, L] over the selected [B, L] tokens of each category [B, L] (-1 is
    in none). values may be a bool mask (then: counts). On the device of the inputs."""
    onehot = categories[..., None] == torch.arange(num, device=categories.device)  # [B, L, num]
    keep = onehot & selected[..., None]  # [B, L, num]
    return (values[..., None].to(torch.float64) * keep).sum(1)  # [B, num]
