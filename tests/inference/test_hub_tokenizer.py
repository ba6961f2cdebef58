"""The Dream family's Hub tokenizer (remote-code slow DreamTokenizer: vocab.json + merges.txt + tokenizer_config.json,
no tokenizer.json) loads natively as a fast tokenizer: ids equal to a slow byte-level BPE reference, offsets, special
tokens at the config's ids, the chat template, and clear errors when tokenizer and model config disagree."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from inference.loading import load_model, load_tokenizer

# Loaded by path: the tests dir is not a package (as tests/inference/test_sampler.py does).
_spec = importlib.util.spec_from_file_location("reference_dream_tokenizer",
                                               Path(__file__).with_name("reference_dream_tokenizer.py"))
_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reference)
SlowDreamTokenizer = _reference.SlowDreamTokenizer

TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n\tdef push(self, x):\n\t\tself.items.append(x)  # O(1)\r\n",
    "x = 1234567 + 0.5e-3; y = 'don't' \"I'll\" we've",
    "caf\u00e9 vs cafe\u0301, na\u00efve \u4f60\u597d\u4e16\u754c \U0001f600  \n\n\n   trailing   ",
    "<|im_start|>user\nfix this<|im_end|>\n<|im_start|>assistant\n<|mask|><|mask|> x<|endoftext|>",
    "<tool_call>{\"name\": 1}</tool_call><|fim_prefix|>a<|fim_suffix|>",
]


def test_autotokenizer_cannot_load_the_hub_layout_without_remote_code(hub_dream_dir):
    from transformers import AutoTokenizer

    assert not (hub_dream_dir / "tokenizer.json").exists()
    config = json.loads((hub_dream_dir / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "DreamTokenizer" and "AutoTokenizer" in config["auto_map"]
    with pytest.raises(Exception):  # noqa: B017  (the failure this module's loader exists for)
        AutoTokenizer.from_pretrained(hub_dream_dir, trust_remote_code=False)


def test_ids_equal_the_slow_reference(hub_dream_dir):
    tok, ref = load_tokenizer(str(hub_dream_dir)), SlowDreamTokenizer(hub_dream_dir)
    assert tok.is_fast
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        assert ids == ref.encode(text), text
        assert len(ids) > 3
    # NFC: the decomposed and the composed spelling are one token sequence
    assert tok("cafe\u0301")["input_ids"] == tok("caf\u00e9")["input_ids"]
    # digits one by one (Qwen2's \p{N}), no BOS added
    assert tok.convert_ids_to_tokens(tok("x=2025")["input_ids"]) == ["x", "=", "2", "0", "2", "5"]


def test_offsets_tile_the_text_and_decode_round_trips(hub_dream_dir):
    tok = load_tokenizer(str(hub_dream_dir))
    text = TEXTS[1]
    enc = tok(text, return_offsets_mapping=True)
    spans = enc["offset_mapping"]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no gaps, no overlaps: every character has a token
    for text in TEXTS[:3]:
        assert tok.decode(tok(text)["input_ids"]) == text


def test_special_tokens_and_chat_template(hub_dream_dir):
    config = json.loads((hub_dream_dir / "config.json").read_text())
    tok_config = json.loads((hub_dream_dir / "tokenizer_config.json").read_text())
    tok = load_tokenizer(str(hub_dream_dir))
    by_content = {e["content"]: int(i) for i, e in tok_config["added_tokens_decoder"].items()}
    assert tok.mask_token == "<|mask|>" and tok.mask_token_id == config["mask_token_id"] == by_content["<|mask|>"]
    assert tok.eos_token_id == tok.pad_token_id == config["eos_token_id"] == by_content["<|endoftext|>"]
    assert tok.convert_tokens_to_ids("<|im_end|>") == by_content["<|im_end|>"]
    assert len(tok) == max(by_content.values()) + 1
    # special tokens are skipped when decoding, the non-special added ones (<tool_call>) are not
    ids = tok("<|im_start|>a<|mask|><tool_call>")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "a<tool_call>"
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert tok.chat_template == tok_config["chat_template"]
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_diffucoder_layout_pads_with_dlm_pad(tmp_path):
    from inference.tiny import TinySizes
    from inference.tiny_dream import build_hub_shaped_dream

    d = build_hub_shaped_dream(tmp_path / "dc", sizes=TinySizes(n_layers=1, d_model=32, n_heads=4),
                               diffucoder=True, bpe_vocab=300, corpus_chars=20_000)
    loaded = load_model(d)
    tok, config = loaded.tokenizer, loaded.model.config
    assert tok.pad_token == "<|dlm_pad|>" and tok.pad_token_id == tok.mask_token_id + 1
    assert config.pad_token_id == config.eos_token_id == tok.eos_token_id != tok.pad_token_id  # as on the Hub


def _edit(directory, name, **changes):
    path = directory / name
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("field, message", [("mask_token_id", "mask"), ("eos_token_id", "EOS"),
                                            ("pad_token_id", "pad_token_id")])
def test_ids_that_disagree_with_the_config_raise(hub_dream_dir, tmp_path, field, message):
    d = tmp_path / "model"
    shutil.copytree(hub_dream_dir, d)
    config = json.loads((d / "config.json").read_text())
    _edit(d, "config.json", **{field: config[field] - 3})
    with pytest.raises(ValueError, match=message):
        load_model(d)


def test_more_tokens_than_embedding_rows_raise(hub_dream_dir):
    from types import SimpleNamespace

    from inference.hub_tokenizer import check_tokenizer_ids

    tok = load_tokenizer(str(hub_dream_dir))
    ids = dict(mask_token_id=tok.mask_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    check_tokenizer_ids(tok, SimpleNamespace(vocab_size=len(tok), **ids))
    with pytest.raises(ValueError, match="embedding rows"):
        check_tokenizer_ids(tok, SimpleNamespace(vocab_size=len(tok) - 1, **ids))


def test_vocab_id_clash_and_gap_raise(hub_dream_dir, tmp_path):
    d = tmp_path / "tok"
    shutil.copytree(hub_dream_dir, d)
    tok_config = json.loads((d / "tokenizer_config.json").read_text())
    added = tok_config["added_tokens_decoder"]
    first = min(added, key=int)
    clash = {**added, "5": added[first]}  # id 5 is a BPE token in vocab.json
    _edit(d, "tokenizer_config.json", added_tokens_decoder=clash)
    with pytest.raises(ValueError, match="vocab.json gives it"):
        load_tokenizer(str(d))
    gap = {str(int(i) + 1): e for i, e in added.items()}
    _edit(d, "tokenizer_config.json", added_tokens_decoder=gap)
    with pytest.raises(ValueError, match=f"leave id {first} unassigned"):
        load_tokenizer(str(d))


def test_tiny_models_still_load_through_autotokenizer(tiny_model_dir, tiny_dream_dir):
    """tokenizer.json directories (LLaDA, the tokenizer.json tiny Dream) keep the AutoTokenizer path."""
    for d in (tiny_model_dir, tiny_dream_dir):
        loaded = load_model(d)
        assert loaded.tokenizer.mask_token_id == loaded.model.config.mask_token_id
    assert next(load_model(tiny_model_dir).model.parameters()).dtype == torch.float32
