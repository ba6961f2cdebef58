"""Dream configuration with the field names of the Hub checkpoints (Dream-org/Dream-v0-*-7B, apple/DiffuCoder-7B-*).

model_type is "Dream" (capital D, as in their config.json), so AutoConfig / AutoModel resolve those checkpoints to
this implementation without trust_remote_code. Every default is the Dream-v0-Base-7B value (the Qwen2.5-7B layout);
`DREAM_7B` and `DIFFUCODER_7B` hold the two checkpoints' config.json values for tests and parameter counts.
Reference-code options this implementation does not support (sliding window, RoPE scaling, biases beyond q/k/v) are
kept for round-tripping and rejected in `validate` when set, so a mismatch fails loudly.
"""

from __future__ import annotations

from transformers import PretrainedConfig

# config.json of Dream-org/Dream-v0-Base-7B (Qwen2.5-7B dimensions; the Instruct checkpoint has the same fields).
DREAM_7B = dict(
    vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, hidden_act="silu", max_position_embeddings=131072, rms_norm_eps=1e-6, rope_theta=1e6,
    rope_scaling=None, tie_word_embeddings=False, use_sliding_window=False, sliding_window=None, max_window_layers=28,
    attention_dropout=0.0, initializer_range=0.02, mask_token_id=151666, pad_token_id=151643, bos_token_id=151643,
    eos_token_id=151643, use_cache=True,
)
# config.json of apple/DiffuCoder-7B-Instruct (Qwen2.5-Coder-7B dimensions: same shapes, 32k positions).
DIFFUCODER_7B = {**DREAM_7B, "max_position_embeddings": 32768}
# Both are Qwen2.5-7B-shaped: 28 x (q/k/v with bias, o, gate/up/down, 2 norms) + embed + norm + untied lm_head.
DREAM_7B_PARAMETERS = 7_615_616_512


class DreamConfig(PretrainedConfig):
    model_type = "Dream"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 152064,
        hidden_size: int = 3584,
        intermediate_size: int = 18944,
        num_hidden_layers: int = 28,
        num_attention_heads: int = 28,
        num_key_value_heads: int | None = 4,
        hidden_act: str = "silu",
        max_position_embeddings: int = 131072,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = False,
        tie_word_embeddings: bool = False,
        rope_theta: float = 1e6,
        rope_scaling: dict | None = None,
        use_sliding_window: bool = False,
        sliding_window: int | None = None,
        max_window_layers: int = 28,
        attention_dropout: float = 0.0,
        mask_token_id: int = 151666,
        pad_token_id: int = 151643,
        bos_token_id: int | None = 151643,
        eos_token_id: int = 151643,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        # transformers 5 aliases rope_scaling to rope_parameters (and fills in the default type and theta).
        self.rope_parameters = rope_scaling
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window if use_sliding_window else None
        self.max_window_layers = max_window_layers
        self.attention_dropout = attention_dropout
        self.mask_token_id = mask_token_id
        super().__init__(tie_word_embeddings=tie_word_embeddings, pad_token_id=pad_token_id,
                         bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        # transformers 5 keeps tie_word_embeddings on the config only when the class declares it.
        self.tie_word_embeddings = tie_word_embeddings
        self.rope_theta = rope_theta
        if isinstance(self.rope_parameters, dict):  # the standardised dict carries a theta too: keep them equal
            self.rope_parameters["rope_theta"] = rope_theta

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def validate(self) -> None:
        """Fail on reference-code options this implementation does not implement."""
        unsupported = {
            "hidden_act": (self.hidden_act, "silu"),
            "use_sliding_window": (self.use_sliding_window, False),
            "rope_scaling": ((self.rope_parameters or {}).get("rope_type", "default"), "default"),
            "tie_word_embeddings": (self.tie_word_embeddings, False),
        }
        bad = {k: v for k, (v, ok) in unsupported.items() if v != ok}
        if bad:
            raise ValueError(f"DreamConfig options not supported by this implementation: {bad}")
        if self.hidden_size % self.num_attention_heads or self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("hidden_size must divide by num_attention_heads and heads by num_key_value_heads")
