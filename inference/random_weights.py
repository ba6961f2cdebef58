"""A model with random weights built from a Hub checkpoint's config.json, with a local tokenizer: the GPU smoke test's
stand-in for LLaDA-8B / Dream-7B when nothing may be downloaded (scripts/make_random_model.py).

Every config.json field is kept, so shapes, parameter count, memory and FLOPs are the real checkpoint's; the weights
are the architecture's own random init (init_std 0.02), in bf16 by default. The tokenizer is a small byte-level BPE
trained on local Python source and laid out as the family ships it (inference/hub_layout.py): for Dream the Hub's
slow-tokenizer files (so the run goes through inference/hub_tokenizer.py as the real checkpoint would), for LLaDA a
tokenizer.json; filler tokens pad its vocabulary so that EOS, mask and the chat tokens sit at the config's ids.
`overrides` shrink a config for CPU checks (fewer / narrower layers) while keeping the vocabulary and special ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

import inference  # noqa: F401  (registers the model types with the Auto classes)
from inference.hub_layout import llada_tokenizer, train_bpe, write_dream_tokenizer
from inference.tiny import declare_standard_tokenizer_class


def _llada_tokenizer(out: Path, config: dict, bpe: tuple) -> None:
    first = config["eos_token_id"] - 1  # LLaDA's <|startoftext|> precedes <|endoftext|>
    tok = llada_tokenizer(*bpe, first_special=first)
    if tok.mask_token_id != config["mask_token_id"]:
        raise ValueError(f"LLaDA layout puts the mask at {tok.mask_token_id}, the config says {config['mask_token_id']}")
    tok.save_pretrained(out)
    declare_standard_tokenizer_class(out)


def _dream_tokenizer(out: Path, config: dict, bpe: tuple) -> None:
    from inference.hub_layout import DREAM_ADDED, pad_vocab

    vocab, merges = bpe
    first = config["mask_token_id"] - len(DREAM_ADDED) + 1  # <|endoftext|> = 151643 when <|mask|> = 151666
    ids = write_dream_tokenizer(out, pad_vocab(vocab, first), merges)
    if (ids["eos"], ids["mask"]) != (config["eos_token_id"], config["mask_token_id"]):
        raise ValueError(f"Dream layout gives eos/mask {ids['eos']}/{ids['mask']}, the config says "
                         f"{config['eos_token_id']}/{config['mask_token_id']}")


TOKENIZER_LAYOUTS = {"llada": _llada_tokenizer, "Dream": _dream_tokenizer}  # keyed by config.json's model_type


def hub_config(config_file: str | Path, overrides: dict | None = None):
    """The transformers config of a Hub config.json (+ overrides), as our registered class for its model_type."""
    from transformers import AutoConfig

    fields = {**json.loads(Path(config_file).read_text()), **(overrides or {})}
    # auto_map points at the Hub's remote code, which we replace; _name_or_path and torch_dtype are load metadata.
    return AutoConfig.for_model(**{k: v for k, v in fields.items()
                                   if k not in ("auto_map", "torch_dtype", "_name_or_path")})


def build_random_model(config_file: str | Path, out: str | Path, dtype: torch.dtype = torch.bfloat16,
                       device: str = "cpu", overrides: dict | None = None, seed: int = 0, bpe_vocab: int = 4096,
                       corpus_chars: int = 2_000_000) -> Path:
    """Write config.json + random weights (safetensors, `dtype`) + a matching local tokenizer to `out`.

    `device`: where the weights are initialised (cuda: seconds for 8B instead of minutes); saved from there."""
    from transformers import AutoModel

    fields = {**json.loads(Path(config_file).read_text()), **(overrides or {})}
    model_type = fields.get("model_type")
    if model_type not in TOKENIZER_LAYOUTS:
        raise ValueError(f"{config_file}: model_type {model_type!r} has no tokenizer layout; known: "
                         f"{sorted(TOKENIZER_LAYOUTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    TOKENIZER_LAYOUTS[model_type](out, fields, train_bpe(bpe_vocab, corpus_chars))
    config = hub_config(config_file, overrides)
    torch.manual_seed(seed)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # parameters are created in `dtype` (no fp32 copy: 32 GB for LLaDA-8B)
    try:
        with torch.device(device):
            model = AutoModel.from_config(config)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(out)
    del model
    return out
