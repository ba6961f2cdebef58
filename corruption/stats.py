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
