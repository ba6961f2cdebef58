"""Offline tiny models: a byte-level BPE tokenizer trained on local Python source and a random LLaDA-architecture model.

Nothing is downloaded. Tests, CI and the README demo use these; the special tokens mirror LLaDA's roles
(<|mdm_mask|>, <|endoftext|> as eos = pad, <|startoftext|> as bos, <|eot_id|> and header tokens for the chat template).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from data.local_corpus import python_source_files
from inference.configuration_llada import LLaDAConfig
from inference.modeling_llada import LLaDAModelLM

SPECIAL_TOKENS = ["<|endoftext|>", "<|startoftext|>", "<|mdm_mask|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


@dataclass
class TinySizes:
    vocab_size: int = 4096
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_hidden_size: int = 192
    max_sequence_length: int = 1024
    corpus_chars: int = 3_000_000


def train_tokenizer(vocab_size: int, corpus_chars: int, root: str | Path | None = None) -> PreTrainedTokenizerFast:
    """Byte-level BPE on local Python source (deterministic: files sorted, fixed char budget)."""
    texts, total = [], 0
    for path in python_source_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        texts.append(text)
        total += len(text)
        if total >= corpus_chars:
            break
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    # trim_offsets=False: token spans tile the text, so every character (and line) maps to exactly one token.
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        mask_token="<|mdm_mask|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_config(tokenizer: PreTrainedTokenizerFast, sizes: TinySizes) -> LLaDAConfig:
    vocab = len(tokenizer)
    padded = -(-vocab // 64) * 64  # the reference pads the embedding to a multiple of 64 too (126464)
    return LLaDAConfig(
        d_model=sizes.d_model,
        n_layers=sizes.n_layers,
        n_heads=sizes.n_heads,
        n_kv_heads=sizes.n_heads,
        mlp_hidden_size=sizes.mlp_hidden_size,
        vocab_size=padded,
        embedding_size=padded,
        max_sequence_length=sizes.max_sequence_length,
        mask_token_id=tokenizer.mask_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def build_tiny(out: str | Path, seed: int = 0, sizes: TinySizes | None = None) -> Path:
    """Write tokenizer + random-weight model (safetensors) to `out`; loadable with Auto*.from_pretrained(out)."""
    sizes = sizes or TinySizes()
    out = Path(out)
    tokenizer = train_tokenizer(sizes.vocab_size, sizes.corpus_chars)
    torch.manual_seed(seed)
    model = LLaDAModelLM(tiny_config(tokenizer, sizes))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    declare_standard_tokenizer_class(out)
    return out


def declare_standard_tokenizer_class(directory: str | Path) -> None:
    """Name the saved fast tokenizer "PreTrainedTokenizerFast", which transformers 4.x and 5 both load.

    transformers 5 saves a plain tokenizers-backed tokenizer as "TokenizersBackend", a class 4.x does not have
    (AutoTokenizer raises); both read tokenizer.json the same way under the standard name. A specific class name
    (e.g. a model's own tokenizer) is left as it is."""
    path = Path(directory) / "tokenizer_config.json"
    config = json.loads(path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def model_dir_or_tiny(model_dir: str | None, seed: int = 0) -> str:
    """`model_dir` as given, or a freshly built tiny model in a temp dir (the offline default of the benchmarks)."""
    if model_dir is not None:
        return model_dir
    return str(build_tiny(tempfile.mkdtemp(prefix="tiny-"), seed=seed))
