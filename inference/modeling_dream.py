"""The Dream architecture (Dream-v0-7B, DiffuCoder-7B): a Qwen2 transformer run with full bidirectional attention.

Module names follow the Hub checkpoints (the Qwen2 layout): model.embed_tokens, model.layers.N.{self_attn.{q,k,v,o}_proj
(q/k/v with bias), mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm}, model.norm, lm_head (untied).
The math is Qwen2's: RMSNorm in fp32, rotate-half RoPE, GQA, SwiGLU, SDPA, but no causal mask. Logits keep the
autoregressive convention (row i scores token i + 1): the model adapter (inference/adapters.py) aligns them.
Positions: given `position_ids`, or from a 2D attention mask as Dream's sampler computes them (cumsum(mask) - 1, so a
left-padded row starts at 0; padding gets 1), else 0..T-1 after any cached prefix. Masks: a 2D padding mask [B, past+T]
(keys only; padded queries still attend, their rows are never read), a 4D bool / additive mask as Dream's own
diffusion_generate passes, or None / "full". Optional (k, v) cache for the fast samplers, as the LLaDA model: a prefix
cache, or a whole-sequence cache whose slice [replace_start, + T) the input replaces (Fast-dLLM's DualCache; positions
are then the slice's, from a 2D mask or replace_start .. + T - 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import CausalLMOutputWithPast

from inference.configuration_dream import DreamConfig
from inference.modeling_common import (
    KVCache,
    RMSNorm,
    bidirectional_attention,
    join_past,
    lm_output,
    padding_bias,
    query_start,
    register_auto_classes,
    rotate_half,
)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype):
    """cos, sin [B, 1, T, head_dim] for positions [B, T]: computed in fp32, cast to the activations' dtype (Qwen2)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float) / head_dim))
    freqs = positions.float()[..., None] * inv_freq  # [B, T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, T, hd]
    return emb.cos().to(dtype), emb.sin().to(dtype)


class DreamAttention(nn.Module):
    def __init__(self, config: DreamConfig):
        super().__init__()
        d, hd = config.hidden_size, config.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = config.num_attention_heads, config.num_key_value_heads, hd
        self.dropout = config.attention_dropout
        self.q_proj = nn.Linear(d, self.n_heads * hd, bias=True)
        self.k_proj = nn.Linear(d, self.n_kv_heads * hd, bias=True)
        self.v_proj = nn.Linear(d, self.n_kv_heads * hd, bias=True)
        self.o_proj = nn.Linear(self.n_heads * hd, d, bias=False)

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                layer_past: tuple[torch.Tensor, torch.Tensor] | None, use_cache: bool, replace_start: int | None = None):
        B, T, _ = h.shape
        q = self.q_proj(h).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = self.k_proj(h).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # [B, Hkv, T, hd]
        v = self.v_proj(h).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = join_past(layer_past, k, v, replace_start)  # [B, Hkv, S, hd]
        present = (k, v) if use_cache else None
        if self.n_kv_heads != self.n_heads:
            rep = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = bidirectional_attention(q, k, v, mask, self.dropout if self.training else 0.0)  # [B, H, T, hd]
        return self.o_proj(att.transpose(1, 2).reshape(B, T, -1)), present


class DreamMLP(nn.Module):
    def __init__(self, config: DreamConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DreamDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: DreamConfig):
        super().__init__()
        self.self_attn = DreamAttention(config)
        self.mlp = DreamMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None = None,
                layer_past: tuple[torch.Tensor, torch.Tensor] | None = None, use_cache: bool = False,
                replace_start: int | None = None):
        att, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, layer_past, use_cache, replace_start)
        x = x + att
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class DreamBaseModel(nn.Module):
    """The `model` submodule of the Hub checkpoint (embeddings, layers, final norm)."""

    def __init__(self, config: DreamConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(DreamDecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


def default_positions(attention_mask: torch.Tensor | None, past_len: int, T: int, B: int, device: torch.device,
                      replace_start: int | None = None) -> torch.Tensor:
    """[B, T]: Dream's cumsum(mask) - 1 (padding -> 1) for a 2D mask, else past_len .. past_len + T - 1; with
    replace_start (the input is that slice of a cached sequence, the mask spans the sequence) the slice's positions."""
    if replace_start is not None:
        if attention_mask is not None and attention_mask.dim() == 2:
            attention_mask = attention_mask[:, : replace_start + T]  # its tail is the slice
        past_len = replace_start
    if attention_mask is not None and attention_mask.dim() == 2:
        pos = attention_mask.long().cumsum(-1) - 1
        return pos.masked_fill(attention_mask == 0, 1)[:, -T:]
    return torch.arange(past_len, past_len + T, device=device).expand(B, T)


def attention_bias(attention_mask, dtype: torch.dtype) -> torch.Tensor | None:
    """SDPA mask from a 2D padding mask [B, S] (-> additive [B, 1, 1, S]) or a 4D bool / additive one (as is)."""
    if attention_mask is None or isinstance(attention_mask, str):  # Dream's sampler passes "full" when unpadded
        return None
    if attention_mask.dim() == 4:
        return attention_mask if attention_mask.dtype == torch.bool else attention_mask.to(dtype)
    return padding_bias(attention_mask, dtype)


class DreamModel(PreTrainedModel):
    config_class = DreamConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["DreamDecoderLayer"]
    _supports_sdpa = True

    def __init__(self, config: DreamConfig):
        config.validate()
        super().__init__(config)
        self.model = DreamBaseModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head  # lets peft's "all-linear" leave the LM head alone

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,  # [B, T]
        attention_mask: torch.Tensor | str | None = None,  # [B, S] keys 1 = real token (S: past + T, or the cache's
        # length), or 4D, or "full"
        position_ids: torch.LongTensor | None = None,  # [B, T]
        past_key_values: KVCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
        logits_index: tuple[torch.Tensor, torch.Tensor] | None = None,  # (rows [N], positions [N]): logits [N, V]
        replace_start: int | None = None,  # input_ids are the cached sequence's positions [replace_start, + T)
        **kwargs,
    ) -> CausalLMOutputWithPast:
        x = self.model.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # [B, T, D]
        B, T, _ = x.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[-2]
        query_start(past_key_values, replace_start, T)  # a slice must lie inside the cache
        if position_ids is None:
            position_ids = default_positions(None if isinstance(attention_mask, str) else attention_mask,
                                             past_len, T, B, x.device, replace_start)
        cos, sin = rope_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta, x.dtype)
        mask = attention_bias(attention_mask, x.dtype)
        hidden_states = [] if output_hidden_states else None
        presents = [] if use_cache else None
        for i, layer in enumerate(self.model.layers):
            if hidden_states is not None:
                hidden_states.append(x)
            x, present = layer(x, cos, sin, mask, None if past_key_values is None else past_key_values[i], use_cache,
                               replace_start)
            if presents is not None:
                presents.append(present)
        x = self.model.norm(x)
        if hidden_states is not None:
            hidden_states.append(x)
        logits = self.lm_head(x if logits_index is None else x[logits_index])  # [B, T, V] or [N, V]
        return lm_output(logits, presents, hidden_states)  # row i scores token i + 1


register_auto_classes("Dream", DreamConfig, DreamModel)
