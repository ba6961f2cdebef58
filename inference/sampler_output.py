"""What every sampler mode returns, and the input check they share.

Its own module below inference/sampler.py (LLaDA's generate / infill) and inference/sampler_dream.py (Dream's
diffusion_generate): both build their output here, so neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GenerationOutput:
    sequences: torch.Tensor  # [B, L] prompt + completion (generate) or the repaired sequence (infill)
    confidences: torch.Tensor  # [B, gen_length] (generate) / [B, L] (infill): p(token) at the step it was committed
    nfe: int  # model forward evaluations (a CFG step counts 2)
    trajectory: list[torch.Tensor] | None = None  # [B, L] after every executed step
    trajectory_predictions: list[torch.Tensor] | None = None  # [B, L] after every step, masks filled by the argmax
    # over the tokens generation may commit (never [MASK])
    row_nfe: list[int] | None = None  # per row: the forward passes in which it committed (what B = 1 would count)
    # record_order=True: per completion position [B, gen_length], the executed step (0-based, the index of
    # `trajectory`) that last committed it; -1: never committed
    commit_step: torch.Tensor | None = None


def check_padding(ids: torch.Tensor, attention_mask: torch.Tensor | None, mask_id: int) -> None:
    """Padding must not hold the mask token: padded positions would be denoised as if they were holes."""
    if attention_mask is not None and bool((ids[attention_mask == 0] == mask_id).any()):
        raise ValueError(f"padding uses the mask token id {mask_id}: set the tokenizer's pad token to another id "
                         "(e.g. EOS) so padded positions are not denoised")
