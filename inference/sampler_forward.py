"""How the block sampler (inference/sampler.py) gets logits for its state: the classifier-free-guidance branch and
Fast-dLLM's key/value caches, picked by name (CACHES).

- None: a full forward at every step.
- "prefix" (Fast-dLLM's PrefixCache): a refresh runs the full sequence and keeps the keys/values of everything before
  the current block; the other steps run the block and everything after it on top of that prefix.
- "dual" (Fast-dLLM's DualCache): a refresh runs the full sequence and keeps the keys/values of every position; the
  other steps run the block alone (its queries, keys and values recomputed at the block's own rotary positions) and
  attend to the cached prefix AND suffix (the later, still-masked blocks).
A refresh happens at each block's first step, and (refresh_every = n) at every n-th step inside a block: with n = 1
every step is a full forward and the cached samplers equal the uncached one. Between refreshes the cached positions
keep the keys/values computed when the block held fewer tokens: an approximation, which is why both are fast modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from inference.adapters import ModelAdapter, align_logits
from inference.modeling_common import output_cache


@dataclass
class Forward:
    """The model call of a generation: CFG branch, cache mode and the cache it keeps."""

    model: torch.nn.Module
    adapter: ModelAdapter
    cfg_scale: float = 0.0
    prompt_index: torch.Tensor | None = None  # [B, L] positions masked in the unconditional branch
    cache: str | None = None  # a CACHES name
    refresh_every: int | None = None  # None: refresh at block starts only
    kv: tuple | None = field(default=None, repr=False)  # per layer (k, v) of the last refresh
    window: tuple[int, int] = (0, 0)  # rows [start, end) a cached step computes: the block (shifted models: from
    # one row earlier, whose logits score the block's first token); "prefix" computes from start to the sequence's end

    def refresh_due(self, step: int) -> bool:
        """Whether the `step`-th forward of a block (0-based) runs the full sequence and rebuilds the cache."""
        return step == 0 or (self.refresh_every is not None and step % self.refresh_every == 0)


def _plain(fw: Forward, ids: torch.Tensor, att: torch.Tensor | None, refresh: bool) -> tuple[torch.Tensor, int]:
    return fw.model(input_ids=ids, attention_mask=att).logits, 0


def _full_keeping_cache(fw: Forward, ids: torch.Tensor, att: torch.Tensor | None) -> torch.Tensor:
    out = fw.model(input_ids=ids, attention_mask=att, use_cache=True)
    fw.kv = output_cache(out)
    return out.logits


def _prefix(fw: Forward, ids: torch.Tensor, att: torch.Tensor | None, refresh: bool) -> tuple[torch.Tensor, int]:
    start = fw.window[0]
    if refresh:
        logits = _full_keeping_cache(fw, ids, att)
        fw.kv = tuple((k[:, :, :start], v[:, :, :start]) for k, v in fw.kv)
        return logits, 0
    # The mask spans past + current; the model continues positions after the cached prefix.
    return fw.model(input_ids=ids[:, start:], attention_mask=att, past_key_values=fw.kv).logits, start


def _dual(fw: Forward, ids: torch.Tensor, att: torch.Tensor | None, refresh: bool) -> tuple[torch.Tensor, int]:
    if refresh:
        return _full_keeping_cache(fw, ids, att), 0
    start, end = fw.window
    # The mask spans the whole sequence (the cache's keys); the block's keys/values replace the cached ones there.
    out = fw.model(input_ids=ids[:, start:end], attention_mask=att, past_key_values=fw.kv, replace_start=start)
    return out.logits, start


# Cache modes by name: (forward, ids [B', L], attention [B', L] | None, refresh) -> (raw logits [B', W, V], first row).
CACHES: dict[str | None, Callable[[Forward, torch.Tensor, torch.Tensor | None, bool], tuple[torch.Tensor, int]]] = {
    None: _plain,
    "prefix": _prefix,
    "dual": _dual,
}


def forward(fw: Forward, x: torch.Tensor, att: torch.Tensor | None, refresh: bool) -> tuple[torch.Tensor, int, int]:
    """Aligned logits [B, W, V] for positions offset.., the offset, and the NFE spent."""
    call = CACHES[fw.cache]
    if fw.cfg_scale <= 0:
        logits, offset = call(fw, x, att, refresh)
        return align_logits(logits, fw.adapter), offset, 1
    un_x = x.masked_fill(fw.prompt_index, fw.adapter.mask_token_id)
    att2 = None if att is None else torch.cat([att, att])
    logits, offset = call(fw, torch.cat([x, un_x]), att2, refresh)
    cond, un = align_logits(logits, fw.adapter).chunk(2, dim=0)
    return un + (fw.cfg_scale + 1) * (cond - un), offset, 2
