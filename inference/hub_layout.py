"""Offline tokenizers laid out the way a checkpoint family ships its tokenizer on the Hub (nothing is downloaded).

A small byte-level BPE is trained on local Python source with Qwen2's pre-tokenization; then
- Dream / DiffuCoder: `write_dream_tokenizer` writes vocab.json + merges.txt + tokenizer_config.json naming the
  remote-code `DreamTokenizer` in tokenizer_class and auto_map, plus special_tokens_map.json and added_tokens.json,
  and no tokenizer.json: the files Dream-org/Dream-v0-*-7B and apple/DiffuCoder-7B-* have. The added tokens follow
  the BPE vocabulary in the Hub's order and with its special flags (`<|endoftext|>` first, `<|mask|>` last; DiffuCoder
  appends `<|dlm_pad|>`, its pad token).
- LLaDA: `llada_tokenizer` is a fast tokenizer (a tokenizer.json, as GSAI-ML/LLaDA-8B-* ship) with LLaDA's special
  tokens at their offsets from the first special id (126080 on the Hub).
`pad_vocab` fills the BPE vocabulary with filler tokens that BPE can never produce (no merge leads to them), so the
special tokens land on a real checkpoint's ids: random-weight models built from the Hub's config.json
(inference/random_weights.py) then need no id remapping.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from inference.hub_tokenizer import qwen2_pre_tokenizer
from inference.tiny import CHAT_TEMPLATE, corpus_texts

# Dream-v0's added_tokens_decoder in id order (151643 ... 151666): (content, special).
DREAM_ADDED = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
               ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
               ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
               ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
               ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
               ("<|repo_name|>", False), ("<|file_sep|>", False), ("<|beginoftext|>", True), ("<|mask|>", True)]
DIFFUCODER_PAD = "<|dlm_pad|>"
DREAM_ROLES = {"bos_token": "<|beginoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "mask_token": "<|mask|>"}
# A ChatML template (the Qwen2.5 family's turn format, without its tool-calling branches).
CHATML_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# LLaDA-8B's special tokens as offsets from <|startoftext|> (126080): eos 126081, mask 126336, chat turns 126346-8.
LLADA_SPECIALS = {0: "<|startoftext|>", 1: "<|endoftext|>", 256: "<|mdm_mask|>", 266: "<|start_header_id|>",
                  267: "<|end_header_id|>", 268: "<|eot_id|>"}
LLADA_ROLES = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "mask_token": "<|mdm_mask|>"}


def train_bpe(vocab_size: int, corpus_chars: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) of a byte-level BPE with Qwen2's pre-tokenization, on local Python source (deterministic)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = qwen2_pre_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus_texts(corpus_chars), trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def pad_vocab(vocab: dict[str, int], size: int) -> dict[str, int]:
    """`vocab` grown to exactly `size` ids with unreachable filler tokens (no merge produces them)."""
    if len(vocab) > size:
        raise ValueError(f"the BPE vocabulary has {len(vocab)} tokens, more than the {size} asked for")
    return {**vocab, **{f"<|filler_{i}|>": i for i in range(len(vocab), size)}}


def _token_entry(content: str, special: bool) -> dict:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": special}


def write_dream_tokenizer(out: str | Path, vocab: dict[str, int], merges: list[tuple[str, str]],
                          diffucoder: bool = False, model_max_length: int = 131072) -> dict[str, int]:
    """Write Dream's (or DiffuCoder's) Hub tokenizer files to `out`; returns the role -> id map (eos, pad, mask,
    bos) a matching model config needs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    added = DREAM_ADDED + ([(DIFFUCODER_PAD, True)] if diffucoder else [])
    ids = {content: len(vocab) + k for k, (content, _) in enumerate(added)}
    roles = {**DREAM_ROLES, **({"pad_token": DIFFUCODER_PAD} if diffucoder else {})}
    config = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[c]): _token_entry(c, s) for c, s in added},
        "additional_special_tokens": ["<|beginoftext|>", "<|mask|>"] + ([DIFFUCODER_PAD] if diffucoder else []),
        "auto_map": {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]},
        **roles, "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False, "errors": "replace",
        "model_max_length": model_max_length, "split_special_tokens": False, "tokenizer_class": "DreamTokenizer",
        "unk_token": None,
    }
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=2) + "\n")
    (out / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n")
    (out / "added_tokens.json").write_text(json.dumps(ids, indent=2) + "\n")
    special_map = {"additional_special_tokens": config["additional_special_tokens"],
                   **{r: _token_entry(c, True) for r, c in roles.items()}}
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
    return {role.removesuffix("_token"): ids[content] for role, content in roles.items()}


def llada_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]], first_special: int
                    ) -> PreTrainedTokenizerFast:
    """A fast byte-level BPE with LLaDA's special tokens at first_special + LLADA_SPECIALS offsets (fillers between)."""
    vocab = pad_vocab(vocab, first_special + max(LLADA_SPECIALS) + 1)
    by_id = {i: t for t, i in vocab.items()}
    for offset, content in LLADA_SPECIALS.items():
        del vocab[by_id[first_special + offset]]
        vocab[content] = first_special + offset
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = qwen2_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(c, normalized=False, special=True) for c in LLADA_SPECIALS.values()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **LLADA_ROLES)
    fast.chat_template = CHAT_TEMPLATE
    return fast
