"""The LLaDA architecture (bidirectional Llama-style transformer), loadable from the Hub checkpoint by name.

Module names follow GSAI-ML/LLaDA-8B-*: model.transformer.{wte, blocks.N.{attn_norm, q_proj, k_proj, v_proj, attn_out,
ff_norm, ff_proj, up_proj, ff_out}, ln_f, ff_out}. The math follows the reference modeling code ("llama" block type):
RMSNorm in fp32, rotate-half RoPE in fp32, SDPA with is_causal=False, SwiGLU as ff_out(silu(ff_proj(x)) * up_proj(x)),
LM head untied unless weight_tying (the reference's F.linear(x, wte.weight); here ff_out.weight is wte.weight, so
checkpoints keep one matrix and HF re-ties it on load). Deviations: no alibi / flash-attn / qk-norm paths (rejected
by LLaDAConfig.validate), HF-standard gradient checkpointing, and an optional (k, v) cache used by the fast samplers:
a prefix cache (the input continues after it) or a whole-sequence cache whose slice [replace_start, + T) the input
replaces (Fast-dLLM's DualCache).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import CausalLMOutputWithPast

from inference.configuration_llada import LLaDAConfig
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


def rotary_sin_cos(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """sin, cos of shape [T, head_dim] in fp32 for integer positions [T] (rotate-half layout)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float) / head_dim))
    freqs = torch.outer(positions.float(), inv_freq)  # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, hd]
    return emb.sin(), emb.cos()


def apply_rope(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor, full_precision: bool) -> torch.Tensor:
    x_ = x.float() if full_precision else x
    return (x_ * cos.to(x_.dtype) + rotate_half(x_) * sin.to(x_.dtype)).to(x.dtype)


class LLaDABlock(GradientCheckpointingLayer):
    def __init__(self, config: LLaDAConfig):
        super().__init__()
        d, kv_dim, hidden = config.d_model, config.effective_n_kv_heads * (config.d_model // config.n_heads), config.ffn_hidden_size
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.effective_n_kv_heads, d // config.n_heads
        self.rope_full_precision = config.rope_full_precision
        self.attn_norm = RMSNorm(d, config.rms_norm_eps)
        self.ff_norm = RMSNorm(d, config.rms_norm_eps)
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, kv_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_dim, bias=False)
        self.attn_out = nn.Linear(d, d, bias=False)
        self.ff_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.ff_out = nn.Linear(hidden, d, bias=False)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        rope: tuple[torch.Tensor, torch.Tensor],  # sin, cos [T, hd] of this call's positions (shared by the blocks)
        attention_bias: torch.Tensor | None = None,  # [B, 1, 1, past + T] additive
        layer_past: tuple[torch.Tensor, torch.Tensor] | None = None,
        use_cache: bool = False,
        replace_start: int | None = None,  # layer_past spans the sequence; x is its slice from here
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_proj(h).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = self.k_proj(h).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        sin, cos = rope
        q = apply_rope(q, sin, cos, self.rope_full_precision)
        k = apply_rope(k, sin, cos, self.rope_full_precision)
        k, v = join_past(layer_past, k, v, replace_start)  # [B, Hkv, S, hd]
        present = (k, v) if use_cache else None
        if self.n_kv_heads != self.n_heads:
            rep = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = bidirectional_attention(q, k, v, attention_bias)  # [B, H, T, hd]
        x = x + self.attn_out(att.transpose(1, 2).reshape(B, T, -1))
        h = self.ff_norm(x)
        x = x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))
        return x, present


class LLaDAModel(nn.Module):
    """The `model` submodule of the Hub checkpoint: holds `transformer` (a ModuleDict, as in the reference)."""

    def __init__(self, config: LLaDAConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.padded_vocab_size, config.d_model),
                blocks=nn.ModuleList(LLaDABlock(config) for _ in range(config.n_layers)),
                ln_f=RMSNorm(config.d_model, config.rms_norm_eps),
                ff_out=nn.Linear(config.d_model, config.padded_vocab_size, bias=False),
            )
        )


class LLaDAModelLM(PreTrainedModel):
    config_class = LLaDAConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["LLaDABlock"]
    _supports_sdpa = True
    # with config.weight_tying (tie_word_embeddings) HF ties the LM head to the input embedding
    _tied_weights_keys = {"model.transformer.ff_out.weight": "model.transformer.wte.weight"}

    def __init__(self, config: LLaDAConfig):
        config.validate()
        super().__init__(config)
        self.model = LLaDAModel(config)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.transformer.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.transformer.wte = value

    def get_output_embeddings(self) -> nn.Linear:
        # Lets peft's "all-linear" exclude the LM head (whose name, ff_out, also matches the block MLP output).
        return self.model.transformer.ff_out

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.model.transformer.ff_out = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,  # [B, T]
        attention_mask: torch.Tensor | None = None,  # [B, S] keys (S: past + T, or the cache's length), 1 = real token
        inputs_embeds: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
        logits_index: tuple[torch.Tensor, torch.Tensor] | None = None,  # (rows [N], positions [N]): logits [N, V]
        replace_start: int | None = None,  # input_ids are the cached sequence's positions [replace_start, + T)
        **kwargs,
    ) -> CausalLMOutputWithPast:
        tr = self.model.transformer
        x = tr.wte(input_ids) if inputs_embeds is None else inputs_embeds  # [B, T, D]
        bias = None if attention_mask is None else padding_bias(attention_mask, x.dtype)
        hidden_states = [] if output_hidden_states else None
        presents = [] if use_cache else None
        start = query_start(past_key_values, replace_start, x.shape[1])
        cfg = self.config
        rope = rotary_sin_cos(torch.arange(start, start + x.shape[1], device=x.device),  # once, not per block
                              cfg.d_model // cfg.n_heads, cfg.rope_theta)
        for i, block in enumerate(tr.blocks):
            if hidden_states is not None:
                hidden_states.append(x)
            layer_past = None if past_key_values is None else past_key_values[i]
            x, present = block(x, rope, bias, layer_past, use_cache, replace_start)
            if presents is not None:
                presents.append(present)
        x = tr.ln_f(x)
        if hidden_states is not None:
            hidden_states.append(x)
        logits = tr.ff_out(x if logits_index is None else x[logits_index])  # [B, T, V] or [N, V]
        return lm_output(logits, presents, hidden_states)


register_auto_classes("llada", LLaDAConfig, LLaDAModelLM)
