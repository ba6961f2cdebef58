"""LLaDA configuration with the field names of the Hub checkpoint (GSAI-ML/LLaDA-8B-*).

The Hub's own LLaDAConfig() defaults are GPT-2/OLMo-like, not LLaDA's, so here every default is the 8B value and a
config.json from the Hub (which sets every field) loads into this class unchanged. Fields the reference code carries
but this implementation does not support (alibi, flash_attention, biases, ...) are kept for round-tripping and
rejected in `validate` when set to values we do not implement, so a mismatch fails loudly instead of silently.
"""

from __future__ import annotations

from transformers import PretrainedConfig

LLADA_8B_PARAMETERS = 8_015_581_184


class LLaDAConfig(PretrainedConfig):
    model_type = "llada"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        d_model: int = 4096,
        n_layers: int = 32,
        n_heads: int = 32,
        n_kv_heads: int | None = 32,
        mlp_hidden_size: int | None = 12288,
        mlp_ratio: int = 4,
        vocab_size: int = 126464,
        embedding_size: int | None = 126464,
        max_sequence_length: int = 4096,
        rope: bool = True,
        rope_theta: float = 500000.0,
        rope_full_precision: bool = True,
        rms_norm_eps: float = 1e-5,
        layer_norm_type: str = "rms",
        block_type: str = "llama",
        activation_type: str = "silu",
        weight_tying: bool = False,
        include_bias: bool = False,
        include_qkv_bias: bool = False,
        alibi: bool = False,
        attention_layer_norm: bool = False,
        input_emb_norm: bool = False,
        scale_logits: bool = False,
        attention_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        init_std: float = 0.02,
        mask_token_id: int = 126336,
        eos_token_id: int = 126081,
        pad_token_id: int = 126081,
        bos_token_id: int | None = 126080,
        use_cache: bool = False,
        **kwargs,
    ):
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.mlp_hidden_size = mlp_hidden_size
        self.mlp_ratio = mlp_ratio
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_sequence_length = max_sequence_length
        self.rope = rope
        self.rope_theta = rope_theta
        self.rope_full_precision = rope_full_precision
        self.rms_norm_eps = rms_norm_eps
        self.layer_norm_type = layer_norm_type
        self.block_type = block_type
        self.activation_type = activation_type
        self.weight_tying = weight_tying
        self.include_bias = include_bias
        self.include_qkv_bias = include_qkv_bias
        self.alibi = alibi
        self.attention_layer_norm = attention_layer_norm
        self.input_emb_norm = input_emb_norm
        self.scale_logits = scale_logits
        self.attention_dropout = attention_dropout
        self.residual_dropout = residual_dropout
        self.embedding_dropout = embedding_dropout
        self.init_std = init_std
        self.mask_token_id = mask_token_id
        self.use_cache = use_cache
        # The LM head is a separate matrix unless weight_tying; keep HF's tying switch in agreement.
        kwargs["tie_word_embeddings"] = weight_tying
        super().__init__(
            eos_token_id=eos_token_id, pad_token_id=pad_token_id, bos_token_id=bos_token_id, **kwargs
        )

    # HF-standard aliases, so generic tooling (peft, deepspeed estimators, logging) finds the sizes.
    @property
    def hidden_size(self) -> int:
        return self.d_model

    @property
    def num_hidden_layers(self) -> int:
        return self.n_layers

    @property
    def num_attention_heads(self) -> int:
        return self.n_heads

    @property
    def effective_n_kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def ffn_hidden_size(self) -> int:
        return self.mlp_hidden_size or self.mlp_ratio * self.d_model

    @property
    def padded_vocab_size(self) -> int:
        return self.embedding_size or self.vocab_size

    def validate(self) -> None:
        """Fail on reference-code options this implementation does not implement."""
        unsupported = {
            "block_type": (self.block_type, "llama"),
            "layer_norm_type": (self.layer_norm_type, "rms"),
            "activation_type": (self.activation_type, "silu"),
            "alibi": (self.alibi, False),
            "rope": (self.rope, True),
            "include_bias": (self.include_bias, False),
            "include_qkv_bias": (self.include_qkv_bias, False),
            "attention_layer_norm": (self.attention_layer_norm, False),
        }
        bad = {k: v for k, (v, ok) in unsupported.items() if v != ok}
        if bad:
            raise ValueError(f"LLaDAConfig options not supported by this implementation: {bad}")
        if self.d_model % self.n_heads or self.n_heads % self.effective_n_kv_heads:
            raise ValueError("d_model must divide by n_heads and n_heads by n_kv_heads")
