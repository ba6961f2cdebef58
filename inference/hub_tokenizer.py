"""Hub tokenizers that AutoTokenizer cannot load without remote code, built natively as fast tokenizers.

Dream-org/Dream-v0-*-7B and apple/DiffuCoder-7B-* ship a remote-code slow `DreamTokenizer`: vocab.json + merges.txt
+ tokenizer_config.json (tokenizer_class "DreamTokenizer", an auto_map into tokenization_dream.py), no tokenizer.json.
That class is Qwen2's slow tokenizer under another name (NFC, Qwen2's pre-tokenization regex, GPT-2 byte-level BPE,
no BOS added). AutoTokenizer(trust_remote_code=False) raises on it, and SFT needs character offsets, which only a
fast tokenizer gives. So the same tokenizer is built here as a fast one from the same files, the way transformers
converts Qwen2's slow tokenizer (its Qwen2Converter): NFC normalizer, the regex split ("isolated"), byte-level
without prefix space, byte-level decoder; the post-processor keeps offsets untrimmed (trim_offsets=False, as
inference/tiny.py) so token spans tile the text. The added tokens of tokenizer_config.json's added_tokens_decoder
(`<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, `<|mask|>`, DiffuCoder's `<|dlm_pad|>`, ...) keep their ids and their
special flag; the named roles (eos, pad, mask, bos) and the chat template carry over. Which builder applies is
looked up by the tokenizer_class name in `SLOW_TOKENIZER_BUILDERS`; nothing downloads beyond the Hub files the slow
tokenizer itself would read.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

# Qwen2's pre-tokenization (contractions, letter runs, single digits, punctuation runs, newlines, spaces).
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
ROLES = ("bos_token", "eos_token", "pad_token", "mask_token", "unk_token")


def qwen2_pre_tokenizer():
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def _content(token) -> str | None:
    """A tokenizer_config.json token entry: a string, {"content": ...} or null."""
    return token.get("content") if isinstance(token, dict) else token


def _added_tokens(config: dict, vocab: dict[str, int]) -> list[tuple[int, dict]]:
    """(id, entry) of added_tokens_decoder, in id order; refuses an id that vocab.json gives another token."""
    by_id = {v: k for k, v in vocab.items()}
    added = sorted((int(i), entry) for i, entry in (config.get("added_tokens_decoder") or {}).items())
    for i, entry in added:
        if i in by_id and by_id[i] != entry["content"]:
            raise ValueError(f"tokenizer_config.json gives id {i} to {entry['content']!r}, but vocab.json gives it "
                             f"to {by_id[i]!r}")
    return added


def byte_level_bpe(vocab_file: str | Path, merges_file: str | Path, config: dict) -> PreTrainedTokenizerFast:
    """The fast byte-level BPE (Qwen2 layout) of vocab.json + merges.txt + a tokenizer_config.json dict."""
    vocab, merges = models.BPE.read_file(str(vocab_file), str(merges_file))
    added = _added_tokens(config, vocab)
    for i, entry in added:  # in the model's vocabulary at their ids; matched as whole tokens before BPE below
        vocab[entry["content"]] = i
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        gap = next(k for k, i in enumerate(ids) if i != k)
        raise ValueError(f"vocab.json + added_tokens_decoder leave id {gap} unassigned: not a contiguous vocabulary")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None, continuing_subword_prefix="",
                               end_of_word_suffix="", fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = qwen2_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    special = [AddedToken(e["content"], lstrip=e.get("lstrip", False), rstrip=e.get("rstrip", False),
                          single_word=e.get("single_word", False), normalized=e.get("normalized", False),
                          special=e.get("special", True)) for _, e in added]
    tok.add_special_tokens([t for t in special if t.special])
    tok.add_tokens([t for t in special if not t.special])
    roles = {r: _content(config.get(r)) for r in ROLES if _content(config.get(r)) is not None}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False,
                                   model_max_length=config.get("model_max_length", int(1e30)), **roles)
    for role, text in roles.items():
        if fast.convert_tokens_to_ids(text) != tok.token_to_id(text) or tok.token_to_id(text) is None:
            raise ValueError(f"tokenizer_config.json: {role} {text!r} is not a token of this vocabulary")
    fast.chat_template = config.get("chat_template")
    return fast


# tokenizer_config.json's tokenizer_class -> builder from (vocab.json, merges.txt, config dict).
SLOW_TOKENIZER_BUILDERS = {"DreamTokenizer": byte_level_bpe}
SLOW_TOKENIZER_FILES = ("vocab.json", "merges.txt")


def tokenizer_file(name_or_path: str, filename: str) -> str | None:
    """Local path of `filename` in a model directory or Hub repo (cached or downloaded), None when it has none."""
    path = Path(name_or_path)
    if path.is_dir():
        return str(path / filename) if (path / filename).is_file() else None
    from transformers.utils import cached_file

    return cached_file(name_or_path, filename, _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)


def native_builder(name_or_path: str):
    """The builder for a tokenizer that ships only slow-tokenizer files of a class in SLOW_TOKENIZER_BUILDERS, else
    None (a tokenizer.json, or a class transformers knows, loads through AutoTokenizer)."""
    config_file = tokenizer_file(name_or_path, "tokenizer_config.json")
    if config_file is None:
        return None
    config = json.loads(Path(config_file).read_text())
    builder = SLOW_TOKENIZER_BUILDERS.get(config.get("tokenizer_class"))
    if builder is None or tokenizer_file(name_or_path, "tokenizer.json") is not None:
        return None

    def build() -> PreTrainedTokenizerFast:
        files = [tokenizer_file(name_or_path, f) for f in SLOW_TOKENIZER_FILES]
        missing = [f for f, p in zip(SLOW_TOKENIZER_FILES, files) if p is None]
        if missing:
            raise ValueError(f"{name_or_path}: tokenizer_class {config['tokenizer_class']} needs "
                             f"{' and '.join(missing)}, which it does not have")
        return builder(*files, config)

    return build


def check_tokenizer_ids(tokenizer, config) -> None:
    """Refuse a tokenizer whose special ids disagree with the model config (one line saying which).

    mask and EOS must be the same ids; every id must have an embedding row; the config's pad id must be the
    tokenizer's pad or its EOS (DiffuCoder's config says 151643 = EOS while its tokenizer pads with <|dlm_pad|>)."""
    mask, eos = getattr(config, "mask_token_id", None), getattr(config, "eos_token_id", None)
    pad = getattr(config, "pad_token_id", None)
    name = getattr(config, "model_type", "model")
    if tokenizer.mask_token_id is not None and mask is not None and tokenizer.mask_token_id != mask:
        raise ValueError(f"tokenizer mask id {tokenizer.mask_token_id} ({tokenizer.mask_token}) != {name} config "
                         f"mask_token_id {mask}")
    if tokenizer.eos_token_id is not None and eos is not None and tokenizer.eos_token_id not in _ids(eos):
        raise ValueError(f"tokenizer EOS id {tokenizer.eos_token_id} ({tokenizer.eos_token}) != {name} config "
                         f"eos_token_id {eos}")
    if pad is not None and pad not in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        raise ValueError(f"{name} config pad_token_id {pad} is neither the tokenizer's pad id "
                         f"{tokenizer.pad_token_id} nor its EOS id {tokenizer.eos_token_id}")
    rows = getattr(config, "vocab_size", None)
    if rows is not None and len(tokenizer) > rows:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but the {name} model only {rows} embedding rows")


def _ids(value) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)
