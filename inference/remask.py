"""Which positions to remask for a repair: pure selection functions on [B, L] tensors.

- global low-confidence: the K lowest-confidence generated tokens (the fallback when nothing is localized);
- inside a region (e.g. the tokens of the localized lines): all of it when it has <= K tokens, else the K
  lowest-confidence ones (or, for the ablation, K random ones);
- lines -> token positions via the completion's character offsets (data.tokenize.line_token_positions).
Every selector returns a bool mask [B, L] that `inference.sampler.infill` takes as `positions`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from data.tokenize import line_token_positions


def _lowest_k(scores: torch.Tensor, within: torch.Tensor, k: int | torch.Tensor) -> torch.Tensor:
    """The min(k, |within|) lowest scores [B, L] inside within [B, L] of each row (ties: lowest index first)."""
    scores = scores.float().masked_fill(~within, torch.inf)
    order = scores.argsort(dim=1, stable=True)  # [B, L]
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    k = torch.as_tensor(k, device=scores.device).reshape(-1, 1)  # [B or 1, 1]
    return within & (rank < k)


def lowest_confidence(confidences: torch.Tensor, k: int | torch.Tensor,
                      within: torch.Tensor | None = None) -> torch.Tensor:
    """The k lowest-confidence positions [B, L] of each row, among `within` (default: every position).

    Pass within = the generated region for global low-confidence repair, or a localized region for the targeted one;
    a region with <= k tokens is selected whole.
    """
    within = torch.ones_like(confidences, dtype=torch.bool) if within is None else within.bool()
    return _lowest_k(confidences, within, k)


def random_k(within: torch.Tensor, k: int | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """k uniformly random positions [B, L] inside within [B, L] of each row (all of them when there are <= k)."""
    u = torch.rand(within.shape, device=within.device, generator=generator)
    return _lowest_k(u, within.bool(), k)


# Selection inside a region by name (the "random selection" ablation vs the default): (conf, region, k, gen) -> mask.
SELECTORS: dict[str, Callable[..., torch.Tensor]] = {
    "low_confidence": lambda conf, region, k, gen=None: lowest_confidence(conf, k, region),
    "random": lambda conf, region, k, gen=None: random_k(region, k, gen),
}


def select_in_region(confidences: torch.Tensor, region: torch.Tensor, k: int | torch.Tensor,
                     mode: str = "low_confidence", generator: torch.Generator | None = None) -> torch.Tensor:
    """Stage 3 selection: the whole region if it has <= k tokens, else k of it chosen by `mode`."""
    if mode not in SELECTORS:
        raise ValueError(f"unknown selection mode {mode!r}; known: {sorted(SELECTORS)}")
    return SELECTORS[mode](confidences, region.bool(), k, generator)


def lines_to_positions(offsets: list[tuple[int, int]], text: str, lines: set[int] | list[int], length: int,
                       start: int = 0) -> torch.Tensor:
    """Bool [length] marking the tokens of `text` (token j at sequence index start + j) that touch the 1-based lines.

    `offsets` are the completion tokens' character spans into `text`; `start` is where the completion begins in the
    sequence (the prompt length), so the mask lines up with generate's sequences.
    """
    mask = torch.zeros(length, dtype=torch.bool)
    idx = [start + j for j in line_token_positions(offsets, text, set(lines)) if start + j < length]
    mask[idx] = True
    return mask
