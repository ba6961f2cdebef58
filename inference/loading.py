"""Load a model for evaluation: a base model, a base + LoRA adapter, or merged weights; local dirs or Hub names.

- base / merged: a plain `from_pretrained` directory (train/sft.py's OUTPUT/final/merged/ is one);
- adapter: a peft directory with adapter_config.json (OUTPUT/final/adapter/); its base_model_name_or_path names the
  base, which is loaded first. By default the adapter is merged into the weights (faster sampling, same logits up to
  float rounding); merge=False keeps the peft wrapper.
The tokenizer comes from the given directory, or from the adapter's base when the adapter directory has none; the
Dream family's remote-code slow tokenizer is built natively (inference/hub_tokenizer.py) and every tokenizer's special
ids are checked against the model config.
Device: CUDA when available, else CPU; dtype: bf16 on CUDA, fp32 on CPU, unless given.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

import inference  # noqa: F401  (registers model_type "llada" with the Auto classes)
from data.usage import UsageError
from inference.adapters import ModelAdapter, get_adapter
from inference.hub_tokenizer import check_tokenizer_ids, native_builder

log = logging.getLogger(__name__)
ADAPTER_CONFIG = "adapter_config.json"
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")
DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
          "fp32": torch.float32, "float32": torch.float32}


@dataclass
class LoadedModel:
    model: torch.nn.Module  # eval mode, on `device`
    tokenizer: object
    adapter: ModelAdapter
    device: torch.device
    source: str  # "base" | "adapter" (a plain directory is "base", merged exports included)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"device {device!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """bf16 on CUDA, fp32 elsewhere (CPU bf16 matmuls are slow and the tests compare fp32 logits)."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str) and dtype not in DTYPES:
        raise UsageError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[dtype] if isinstance(dtype, str) else dtype


def _has_file(name_or_path: str, filename: str) -> bool:
    """Whether a local dir or Hub repo holds `filename` (a Hub lookup failure counts as absent)."""
    path = Path(name_or_path)
    if path.is_dir():
        return (path / filename).is_file()
    try:
        from huggingface_hub import file_exists

        return file_exists(name_or_path, filename)
    except Exception:  # offline, bad repo id, ...: treat as a plain model name
        return False


def _adapter_base(name_or_path: str) -> str:
    path = Path(name_or_path)
    if path.is_dir():
        return json.loads((path / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    from peft import PeftConfig

    return PeftConfig.from_pretrained(name_or_path).base_model_name_or_path


MODEL_FILES = ("config.json", ADAPTER_CONFIG)
TINY_BUILD = "python scripts/make_tiny_model.py --out {path}"


def _model_subdirs(path: Path) -> list[str]:
    """Directories below `path` that hold a model or adapter (e.g. a training run's final/adapter)."""
    found = [d for d in sorted(path.glob("*")) + sorted(path.glob("*/*")) if d.is_dir()
             and any((d / f).is_file() for f in MODEL_FILES)]
    return [str(d) for d in found[:3]]


def _hub_problem(name: str) -> str | None:
    """Why the Hub id `name` cannot be loaded here (None when it is cached or downloadable)."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if any(isinstance(try_to_load_from_cache(name, f), str) for f in MODEL_FILES):
        return None
    offline = "the machine is offline ({}), so it cannot be downloaded: download it where there is network " \
              f"(hf download {name}) or give a local model directory"
    if constants.HF_HUB_OFFLINE:
        return "it is not in the local Hugging Face cache and " + offline.format("HF_HUB_OFFLINE=1")
    try:
        HfApi().model_info(name, timeout=10)
    except GatedRepoError:
        return f"it is gated on the Hub: accept its terms on huggingface.co/{name} and log in (hf auth login)"
    except RepositoryNotFoundError:
        return "there is no such model on the Hugging Face Hub (or it is private: log in with hf auth login)"
    except HfHubHTTPError:
        return None  # the Hub answered with some other status: let the loader try and say what it says
    except Exception as e:  # no route, no DNS, timeout: the download would fail the same way
        return "it is not in the local Hugging Face cache and " + offline.format(f"cannot reach the Hub: {e}")
    return None


def check_model_source(name: str, what: str = "model") -> None:
    """Raise a UsageError unless `name` is a model / adapter directory or a Hub id that is cached or downloadable.

    A missing directory whose name says "tiny" gets the command that builds it (the tiny configs' runs/tiny-model).
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    path = Path(name)
    if path.is_dir():
        if any((path / f).is_file() for f in MODEL_FILES):
            return
        inner = _model_subdirs(path)
        hint = f"; did you mean {' or '.join(inner)}?" if inner else ""
        raise UsageError(f"{what} directory {name} holds no config.json (a model) or {ADAPTER_CONFIG} "
                         f"(a peft adapter){hint}")
    if path.exists():
        raise UsageError(f"{what} {name} is a file; give a model directory or a Hub id (org/name)")
    if "tiny" in path.name:
        raise UsageError(f"{what} directory {name} does not exist; build the tiny model first: "
                         + TINY_BUILD.format(path=name))
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise UsageError(f"{what} {name}: no such directory, and not a Hub id (org/name); "
                         "give an existing model directory or a Hugging Face model id") from None
    problem = _hub_problem(name)
    if problem:
        raise UsageError(f"{what} {name}: no such directory, and {problem}")


def load_tokenizer(name_or_path: str, fallback: str | None = None, config=None, trust_remote_code: bool = False):
    """The tokenizer of name_or_path, or of `fallback` (the adapter's base) when it ships none; checked against the
    model `config` when given (inference.hub_tokenizer.check_tokenizer_ids).

    A tokenizer shipped only as a remote-code slow class we know (Dream's DreamTokenizer) is built natively as a
    fast tokenizer from its files (inference.hub_tokenizer); everything else loads through AutoTokenizer."""
    if fallback is not None and not any(_has_file(name_or_path, f) for f in TOKENIZER_FILES):
        name_or_path = fallback
    build = native_builder(name_or_path)
    if build is not None:
        tokenizer = build()
    else:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if config is not None:
        check_tokenizer_ids(tokenizer, config)
    return tokenizer


def load_model(name_or_path: str | Path, device: str | torch.device | None = None,
               dtype: str | torch.dtype | None = None, base: str | None = None, merge: bool = True,
               trust_remote_code: bool = False) -> LoadedModel:
    """Model (eval mode), tokenizer and adapter for a base / adapter / merged directory or Hub name.

    `base` overrides the adapter's base_model_name_or_path (e.g. when the base moved since training).
    """
    name = str(name_or_path)
    check_model_source(name)
    dev = resolve_device(device)
    kw = dict(dtype=resolve_dtype(dtype, dev), trust_remote_code=trust_remote_code)
    if _has_file(name, ADAPTER_CONFIG):
        from peft import PeftModel

        base = base or _adapter_base(name)
        check_model_source(base, f"base model of the adapter {name}")
        model = PeftModel.from_pretrained(AutoModel.from_pretrained(base, **kw), name)
        if merge:
            model = model.merge_and_unload()
        tokenizer, source = load_tokenizer(name, fallback=base, config=model.config,
                                           trust_remote_code=trust_remote_code), "adapter"
    else:
        model, source = AutoModel.from_pretrained(name, **kw), "base"
        tokenizer = load_tokenizer(name, config=model.config, trust_remote_code=trust_remote_code)
    model = model.to(dev).eval()
    return LoadedModel(model, tokenizer, get_adapter(model.config), dev, source)


def format_prompt(tokenizer, prompt: str, chat: bool = False) -> str:
    """The prompt text, wrapped in the tokenizer's chat template (user turn + generation prompt) when asked."""
    if not chat:
        return prompt
    if not getattr(tokenizer, "chat_template", None):
        log.warning("chat template requested but the tokenizer has none: using the raw prompt")
        return prompt
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def encode_prompts(tokenizer, prompts: list[str], chat: bool = False, mask_id: int | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids [B, P] and attention mask [B, P] for the sampler; refuses a pad id equal to the mask id."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if mask_id is not None and pad == mask_id:
        raise ValueError(f"the tokenizer pads with the mask token id {mask_id}; set pad_token to another token (EOS)")
    texts = [format_prompt(tokenizer, p, chat) for p in prompts]
    # A chat template writes its own BOS; a raw prompt gets the tokenizer's usual special tokens.
    rows = [tokenizer(t, add_special_tokens=not chat)["input_ids"] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], dtype=torch.long, device=device)  # [B, P]
    att = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long, device=device)
    return ids, att
