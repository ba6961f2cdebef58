"""What the model families share beyond their math: the output object and the Auto-class registration.

transformers 5 renamed the output's key/value cache `past_key_values` -> `cache` and warns on every use of the old
name (once per process and rank, in every run); 4.x only has the old one. Both families build and read the cache
through these helpers, so neither name is spelled outside this file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
from transformers.modeling_outputs import CausalLMOutputWithPast

KVCache = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer (k, v)


class RMSNorm(nn.Module):
    """Both families' RMSNorm: normalise in fp32 (as the references do), scale in the input dtype."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


CACHE_FIELD = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """[B, L] 1/0 mask -> additive [B, 1, 1, L] bias (0 where attended, dtype-min where padded); None when every
    position is attended (SFT batches padded with attended EOS): SDPA's unmasked kernel is ~20% faster on CPU."""
    if bool(attention_mask.all()):
        return None
    keep = attention_mask.to(dtype)[:, None, None, :]
    return (1.0 - keep) * torch.finfo(dtype).min


def bidirectional_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None,
                            dropout_p: float = 0.0) -> torch.Tensor:
    """SDPA without a causal mask: q, k, v [B, H, T, hd], bias additive [B, 1, 1, S] or bool. On CPU the fused kernel
    runs ~2x slower in bf16 than in fp32 at these head sizes (32.5 vs 63 ms fwd+bwd for [32, 6, 115, 32]; under
    autocast it took a third of the SFT step), so reduced precision is computed in fp32 there; GPUs keep their dtype."""
    if q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cpu", enabled=False):  # CPU autocast would cast SDPA's inputs back down
            return bidirectional_attention(q.float(), k.float(), v.float(), bias, dropout_p).to(q.dtype)
    mask = bias if bias is None or bias.dtype == torch.bool else bias.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=False)


def query_start(past_key_values: KVCache | None, replace_start: int | None, T: int) -> int:
    """The sequence position of this call's first input token: after the cached prefix (a prefix cache), or
    `replace_start` when the cache spans the whole sequence and the input is its slice [replace_start, + T) (dual
    cache: the slice's keys / values replace the cached ones there, every other position attends from the cache)."""
    past_len = 0 if past_key_values is None else past_key_values[0][0].shape[-2]
    if replace_start is None:
        return past_len
    if not 0 <= replace_start <= past_len - T:
        raise ValueError(f"replace_start {replace_start} with {T} input tokens must lie inside the cache of {past_len} "
                         "positions (the dual cache's slice forward needs a cache of the whole sequence)")
    return replace_start


def join_past(layer_past: tuple[torch.Tensor, torch.Tensor] | None, k: torch.Tensor, v: torch.Tensor,
              replace_start: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """This call's rotated keys / values [B, Hkv, T, hd] with the cached ones: appended to a prefix cache, or written
    over the cache's slice [replace_start, + T) (a new tensor: the cache the caller holds is not changed)."""
    if layer_past is None:
        return k, v
    pk, pv = layer_past
    if replace_start is None:
        return torch.cat((pk, k), dim=-2), torch.cat((pv, v), dim=-2)
    end = replace_start + k.shape[-2]
    return (torch.cat((pk[..., :replace_start, :], k, pk[..., end:, :]), dim=-2),
            torch.cat((pv[..., :replace_start, :], v, pv[..., end:, :]), dim=-2))


def lm_output(logits: torch.Tensor, presents: list | None, hidden_states: list | None) -> CausalLMOutputWithPast:
    return CausalLMOutputWithPast(logits=logits, hidden_states=tuple(hidden_states) if hidden_states is not None else None,
                                  **{CACHE_FIELD: tuple(presents) if presents is not None else None})


def output_cache(out: CausalLMOutputWithPast):
    """The per-layer (k, v) tuples a forward with use_cache=True returned."""
    return getattr(out, CACHE_FIELD)


def register_auto_classes(model_type: str, config_cls, model_cls) -> None:
    """Make AutoConfig / AutoModel resolve `model_type` to our implementation (no trust_remote_code)."""
    try:
        AutoConfig.register(model_type, config_cls)
    except ValueError:  # already registered in this process
        pass
    for auto in (AutoModel, AutoModelForMaskedLM):
        try:
            auto.register(config_cls, model_cls)
        except ValueError:
            pass
