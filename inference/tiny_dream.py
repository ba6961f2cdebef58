"""A tiny random Dream-architecture model for tests: `python scripts/make_tiny_model.py --arch dream --out DIR`.

The tokenizer is inference/tiny.py's byte-level BPE plus Dream's mask token `<|mask|>` (the tokenizer's mask token
and config.mask_token_id); EOS = pad = `<|endoftext|>` as in Dream. Two key/value heads per four query heads, so GQA
is exercised. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from inference.configuration_dream import DreamConfig
from inference.modeling_dream import DreamModel
from inference.tiny import TinySizes, train_tokenizer

DREAM_MASK_TOKEN = "<|mask|>"


def dream_tokenizer(base: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """`base` with `<|mask|>` added as the mask token (Dream's name for it)."""
    base.add_special_tokens({"mask_token": DREAM_MASK_TOKEN})
    return base


def tiny_dream_config(tokenizer: PreTrainedTokenizerFast, sizes: TinySizes) -> DreamConfig:
    padded = -(-len(tokenizer) // 64) * 64
    return DreamConfig(
        vocab_size=padded,
        hidden_size=sizes.d_model,
        intermediate_size=sizes.mlp_hidden_size,
        num_hidden_layers=sizes.n_layers,
        num_attention_heads=sizes.n_heads,
        num_key_value_heads=max(sizes.n_heads // 2, 1),
        max_position_embeddings=sizes.max_sequence_length,
        mask_token_id=tokenizer.mask_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def build_tiny_dream(out: str | Path, seed: int = 0, sizes: TinySizes | None = None,
                     base_tokenizer: PreTrainedTokenizerFast | None = None) -> Path:
    """Write tokenizer + random-weight Dream model to `out` (reuses `base_tokenizer` instead of training one)."""
    sizes = sizes or TinySizes()
    out = Path(out)
    tokenizer = dream_tokenizer(base_tokenizer or train_tokenizer(sizes.vocab_size, sizes.corpus_chars))
    torch.manual_seed(seed)
    model = DreamModel(tiny_dream_config(tokenizer, sizes))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_hub_shaped_dream(out: str | Path, seed: int = 0, sizes: TinySizes | None = None, diffucoder: bool = False,
                           bpe_vocab: int = 1024, corpus_chars: int = 400_000) -> Path:
    """A tiny random Dream model whose tokenizer is laid out as the Hub checkpoints ship it: vocab.json, merges.txt,
    tokenizer_config.json naming the remote-code DreamTokenizer (no tokenizer.json; inference/hub_layout.py).
    `diffucoder`: DiffuCoder's layout (pads with <|dlm_pad|>; the config's pad id stays EOS, as on the Hub)."""
    from inference.hub_layout import train_bpe, write_dream_tokenizer

    sizes = sizes or TinySizes()
    out = Path(out)
    vocab, merges = train_bpe(bpe_vocab, corpus_chars)
    ids = write_dream_tokenizer(out, vocab, merges, diffucoder=diffucoder)
    torch.manual_seed(seed)
    config = DreamConfig(
        vocab_size=-(-(max(ids.values()) + 1) // 64) * 64, hidden_size=sizes.d_model,
        intermediate_size=sizes.mlp_hidden_size, num_hidden_layers=sizes.n_layers,
        num_attention_heads=sizes.n_heads, num_key_value_heads=max(sizes.n_heads // 2, 1),
        max_position_embeddings=sizes.max_sequence_length, mask_token_id=ids["mask"], eos_token_id=ids["eos"],
        pad_token_id=ids["eos"], bos_token_id=ids["eos"])  # Dream's config: pad = bos = eos = <|endoftext|>
    DreamModel(config).save_pretrained(out)
    return out
