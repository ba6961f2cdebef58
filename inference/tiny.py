"""Offline small models: a byte-level BPE tokenizer trained on local Python source and a random LLaDA-architecture model.

Nothing is downloaded. The special tokens mirror LLaDA's roles (<|mdm_mask|>, <|endoftext|> as eos = pad,
<|startoftext|> as bos, <|eot_id|> and header tokens for the chat template). Presets:
- `tiny` (tests, CI): 0.6M parameters, tokenizer trained on the standard library only.
- `small` (minicode, see data/minicode.py): sized by measurement to learn minicode on 2 CPU cores; its tokenizer
  splits digits into single tokens (as LLaMA- and Qwen-style tokenizers do, so "-20" in a docstring and `x - 20` in
  code share the digit tokens the model must copy) and has also seen minicode training text.
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
    split_digits: bool = False  # pre-tokenize every digit as its own token
    minicode_rows: int = 0  # minicode training problems added to the tokenizer corpus
    weight_tying: bool = False  # LM head = input embedding (LLaDA's weight_tying)


PRESETS = {
    "tiny": TinySizes(),
    "small": TinySizes(vocab_size=2048, d_model=192, n_layers=3, n_heads=6, mlp_hidden_size=512,
                       max_sequence_length=512, corpus_chars=2_000_000, split_digits=True, minicode_rows=20_000),
}
SIZE_FIELDS = ("vocab_size", "d_model", "n_layers", "n_heads", "mlp_hidden_size", "max_sequence_length", "corpus_chars")


def _pre_tokenizer(split_digits: bool):
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if not split_digits:
        return byte_level
    return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])


def _minicode_texts(rows: int) -> list[str]:
    if rows <= 0:
        return []
    from data.minicode import training_text

    return training_text(rows, seed=0)


def check_tiny_args(out: str | Path, sizes: TinySizes) -> None:
    """Refuse sizes the architecture cannot take before the tokenizer is trained (the slow part)."""
    from data.usage import UsageError

    bad = {k: getattr(sizes, k) for k in SIZE_FIELDS if getattr(sizes, k) < 1}
    if bad or sizes.minicode_rows < 0:
        raise UsageError(f"tiny model sizes must be >= 1 (minicode_rows >= 0), got {bad or sizes.minicode_rows}")
    if sizes.d_model % sizes.n_heads or (sizes.d_model // sizes.n_heads) % 2:
        raise UsageError(f"--d-model {sizes.d_model} must be n_heads ({sizes.n_heads}) x an even head size (RoPE)")
    if sizes.vocab_size < 256 + len(SPECIAL_TOKENS):
        raise UsageError(f"--vocab-size {sizes.vocab_size} is below the 256 bytes + {len(SPECIAL_TOKENS)} special "
                         "tokens of the byte-level tokenizer")
    if Path(out).is_file():
        raise UsageError(f"--out {out} is a file; give a directory to write the model into")


def corpus_texts(corpus_chars: int, root: str | Path | None = None) -> list[str]:
    """Local Python source files' text, files sorted, until `corpus_chars` characters (the tokenizers' corpus)."""
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
    return texts


def train_tokenizer(vocab_size: int, corpus_chars: int, root: str | Path | None = None, split_digits: bool = False,
                    extra_texts: list[str] | None = None) -> PreTrainedTokenizerFast:
    """Byte-level BPE on local Python source (deterministic: files sorted, fixed char budget) plus `extra_texts`."""
    texts = list(extra_texts or []) + corpus_texts(corpus_chars, root)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer(split_digits)
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
        weight_tying=sizes.weight_tying,
        mask_token_id=tokenizer.mask_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def build_tiny(out: str | Path, seed: int = 0, sizes: TinySizes | None = None) -> Path:
    """Write tokenizer + random-weight model (safetensors) to `out`; loadable with Auto*.from_pretrained(out)."""
    sizes = sizes or TinySizes()
    check_tiny_args(out, sizes)
    out = Path(out)
    tokenizer = train_tokenizer(sizes.vocab_size, sizes.corpus_chars, split_digits=sizes.split_digits,
                                extra_texts=_minicode_texts(sizes.minicode_rows))
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
