"""The masked-diffusion SFT loss (LLaDA GUIDELINES.md), as pure functions on tensors.

LLaDA:  loss = (1/B) * sum_i sum_{j masked} CE_ij / (p_ij * answer_len_i)
token:  loss = sum_{i,j masked} CE_ij / p_ij / (number of maskable tokens in the global batch)
p_ij is the per-token masking probability the masker reports (for the AST maskers: the sample's actual masking
rate N_i / L_i, see corruption/maskers.py), so the 1/p weighting follows the forward process actually used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossParts:
    weighted_ce: torch.Tensor  # [B] sum over masked tokens of CE / p
    answer_len: torch.Tensor  # [B] maskable tokens per row
    masked_ce_sum: torch.Tensor  # scalar, plain CE summed over masked tokens (for logging)
    num_masked: torch.Tensor  # scalar


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, is_masked: torch.Tensor) -> torch.Tensor:
    """CE at masked positions, 0 elsewhere: [B, L]. `logits` are [B, L, V], or [N, V] for the masked positions
    alone in row-major order (inference.adapters.selected_token_logits). Only masked rows are upcast (memory)."""
    picked = logits if logits.dim() == 2 else logits[is_masked]  # [N, V]
    ce = torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
    ce[is_masked] = F.cross_entropy(picked.float(), targets[is_masked], reduction="none")
    return ce


def loss_parts(
    logits: torch.Tensor,  # [B, L, V] aligned: position i scores token i; or [N, V] at the masked positions
    targets: torch.Tensor,  # [B, L] clean ids
    is_masked: torch.Tensor,  # [B, L] bool
    p_mask: torch.Tensor,  # [B, L] float
    maskable: torch.Tensor,  # [B, L] bool
) -> LossParts:
    ce = masked_cross_entropy(logits, targets, is_masked)  # [B, L]
    weighted = torch.where(is_masked, ce / p_mask.clamp_min(1e-8), torch.zeros_like(ce)).sum(-1)  # [B]
    return LossParts(weighted, maskable.sum(-1).float(), ce.sum(), is_masked.sum())


def llada_loss(parts: LossParts) -> torch.Tensor:
    """Mean over rows of sum CE/p / answer_len (a micro-batch's share; DeepSpeed averages micro-batches and ranks)."""
    return (parts.weighted_ce / parts.answer_len.clamp_min(1)).mean()


def token_loss(parts: LossParts, global_tokens: float, micro_batches_per_step: int) -> torch.Tensor:
    """sum CE/p over this micro-batch / maskable tokens of the whole global batch, pre-scaled by the number of
    micro-batches (accumulation x ranks) because DeepSpeed divides by accumulation steps and averages ranks."""
    return parts.weighted_ce.sum() * micro_batches_per_step / max(global_tokens, 1.0)


NORMALIZERS = {"answer_length": "llada", "token": "token"}
