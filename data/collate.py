"""Pad tokenized rows into a training batch.

LLaDA's SFT recipe right-pads with EOS and treats the pad EOS tokens as part of the answer (maskable, supervised,
attended) so the model learns where to stop; `pad_with_eos=False` instead pads out of attention and out of the loss.
"""

from __future__ import annotations

import torch

from data.examples import REGION_IDS

REGION_TEXT = REGION_IDS["text"]


def collate(rows: list[dict], pad_id: int, pad_with_eos: bool = True, pad_weight: float = 1.0,
            min_eos: int = 0, eos_to: list[int] | None = None) -> dict[str, torch.Tensor]:
    """rows: dicts with input_ids (list[int]), prompt_len (int) and optional per-token lists (weights, span_ids,
    regions). With pad_with_eos, min_eos > 1 pads min_eos - 1 columns past the longest row, so every row (each
    ends in its own EOS) carries at least min_eos supervised EOS tokens, however similar the row lengths are.
    eos_to (with pad_with_eos): row i's EOS padding ends at eos_to[i] (>= its own length); the columns past it, up
    to the batch's longest, are padding out of attention and loss.

    Returns input_ids, attention_mask, maskable [B, L] and, when present, weights [B, L] float, span_ids and regions [B, L] long.
    """
    B, L = len(rows), max(len(r["input_ids"]) for r in rows)
    if eos_to is not None:
        if not pad_with_eos or len(eos_to) != B or any(e < len(r["input_ids"]) for e, r in zip(eos_to, rows)):
            raise ValueError("eos_to needs pad_with_eos and one end per row, each >= the row's length")
        L = max(eos_to)
    elif pad_with_eos:
        L += max(min_eos - 1, 0)
    input_ids = torch.full((B, L), pad_id, dtype=torch.long)
    real = torch.zeros((B, L), dtype=torch.bool)
    prompt = torch.zeros((B, L), dtype=torch.bool)
    weights = torch.full((B, L), pad_weight, dtype=torch.float32)
    span_ids = torch.full((B, L), -1, dtype=torch.long)
    regions = torch.full((B, L), REGION_TEXT, dtype=torch.long)  # EOS padding is answer text
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        input_ids[i, :n] = torch.tensor(r["input_ids"])
        real[i, :n] = True
        prompt[i, : r["prompt_len"]] = True
        if "weights" in r:
            weights[i, :n] = torch.tensor(r["weights"], dtype=torch.float32)
        if "span_ids" in r:
            span_ids[i, :n] = torch.tensor(r["span_ids"], dtype=torch.long)
        if "regions" in r:
            regions[i, :n] = torch.tensor(r["regions"], dtype=torch.long)
    supervised = torch.ones_like(real) if pad_with_eos else real
    if eos_to is not None:
        supervised = torch.arange(L) < torch.tensor(eos_to)[:, None]  # [B, L]
    batch = {
        "input_ids": input_ids,
        "attention_mask": supervised.long(),
        "maskable": supervised & ~prompt,
        "weights": weights,
    }
    if any("span_ids" in r for r in rows):
        batch["span_ids"] = span_ids
    if any("regions" in r for r in rows):
        batch["regions"] = regions
    return batch
