"""Per-model conventions the losses and samplers must not hard-code.

A masked-diffusion LM family differs in four ways that matter here: which token id is [MASK], whether the logits at
position i predict token i (LLaDA) or token i+1 (Dream / DiffuCoder, which keep the AR shift), which linear layers
LoRA should wrap (never the LM head), and which tokens end a completion or pad the canvas after it (LLaDA: EOS and
<|eot_id|>; Dream: EOS and <|im_end|>, the end of an Instruct chat turn; DiffuCoder pads with <|dlm_pad|>).
Everything downstream asks the adapter via `token_logits`, `stop_ids` / `pad_id` and the fields below.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ModelAdapter:
    family: str
    mask_token_id: int
    eos_token_id: int
    shift_logits: bool  # True: logits[:, i] predicts token i + 1 (Dream); False: predicts token i (LLaDA)
    lora_target_modules: str | list[str]
    # Tokens (as the Hub tokenizers spell them) that end a completion besides EOS, where the tokenizer has them.
    stop_tokens: tuple[str, ...] = ()
    # The token the family fills the canvas with after a completion, where the tokenizer has it (else EOS).
    pad_token: str | None = None

    def stop_ids(self, tokenizer) -> tuple[int, ...]:
        """Ids that end a completion and are part of it (RL's loss keeps the first, as TRL keeps the first EOS): the
        config's and the tokenizer's EOS and the family's stop tokens the tokenizer has. Sorted, no duplicates."""
        ids = {self.eos_token_id, getattr(tokenizer, "eos_token_id", None)}
        ids |= {_token_id(tokenizer, t) for t in self.stop_tokens}
        return tuple(sorted(i for i in ids if i is not None))

    def pad_id(self, tokenizer) -> int:
        """The id after a completion (DiffuCoder: <|dlm_pad|>); EOS for families that pad with it."""
        pad = _token_id(tokenizer, self.pad_token) if self.pad_token else None
        return self.eos_token_id if pad is None else pad

    def end_ids(self, tokenizer) -> tuple[int, ...]:
        """Where a completion's text ends: the first stop or pad id (the text stops before it)."""
        return tuple(sorted({*self.stop_ids(tokenizer), self.pad_id(tokenizer)}))


def _token_id(tokenizer, token: str) -> int | None:
    """The id of `token` when the tokenizer has it as one token (added or in the vocabulary), else None."""
    ids = tokenizer.convert_tokens_to_ids([token])
    i = ids[0] if ids else None
    if i is None or i < 0 or (i == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return i


def _llada(config) -> ModelAdapter:
    return ModelAdapter(
        family="llada",
        mask_token_id=config.mask_token_id,
        eos_token_id=config.eos_token_id,
        shift_logits=False,
        # The 7 block linears; a bare "ff_out" would also match the LM head model.transformer.ff_out.
        lora_target_modules=r".*blocks\.\d+\.(q_proj|k_proj|v_proj|attn_out|ff_proj|up_proj|ff_out)",
        stop_tokens=("<|endoftext|>", "<|eot_id|>"),  # <|eot_id|> ends an Instruct turn; padding is EOS
    )


def _dream(config) -> ModelAdapter:
    return ModelAdapter(
        family="dream",
        mask_token_id=config.mask_token_id,
        eos_token_id=config.eos_token_id,
        shift_logits=True,
        lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        stop_tokens=("<|endoftext|>", "<|im_end|>"),  # <|im_end|> ends an Instruct chat turn
        pad_token="<|dlm_pad|>",  # DiffuCoder's canvas padding (Dream-v0 has none: it pads with EOS)
    )


# Keyed by config.model_type as the Hub checkpoints spell it (Dream-org / apple/DiffuCoder: "Dream").
ADAPTERS = {"llada": _llada, "Dream": _dream}


def get_adapter(config) -> ModelAdapter:
    """The adapter for a transformers config (dispatch on config.model_type)."""
    model_type = getattr(config, "model_type", None)
    if model_type not in ADAPTERS:
        raise ValueError(f"no model adapter for model_type {model_type!r}; known: {sorted(ADAPTERS)}")
    if getattr(config, "mask_token_id", None) is None:
        raise ValueError(f"model config ({model_type}) has no mask_token_id: not a masked-diffusion model")
    return ADAPTERS[model_type](config)


def align_logits(logits: torch.Tensor, adapter: ModelAdapter) -> torch.Tensor:
    """Return logits [B, L, V] where position i scores token i, whatever the model's convention."""
    if not adapter.shift_logits:
        return logits
    # Dream: logits[:, i] predicts i + 1; position 0 has no predictor, reuse position 0's row as Dream's code does.
    return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)


def token_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, adapter: ModelAdapter):
    """One forward pass; logits [B, L, V] aligned so that position i scores token i."""
    return align_logits(model(input_ids=input_ids, attention_mask=attention_mask).logits, adapter)


def selected_token_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                          adapter: ModelAdapter, positions: torch.Tensor) -> torch.Tensor:
    """One forward pass; logits [N, V] for the N True entries of `positions` [B, L] (row-major order), position i
    scoring token i. The LM head runs on those rows only: a loss that reads the masked tokens skips the unmasked
    ones (half the head's FLOPs at mean noise, and the [B, L, V] logits LLaDA-8B's 126k vocabulary would hold)."""
    rows, cols = positions.nonzero(as_tuple=True)  # [N], [N]
    if adapter.shift_logits:  # Dream: token i is scored at position i - 1 (token 0 at position 0, as align_logits)
        cols = (cols - 1).clamp_min(0)
    return model(input_ids=input_ids, attention_mask=attention_mask, logits_index=(rows, cols)).logits
