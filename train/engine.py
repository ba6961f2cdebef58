"""Model + LoRA + DeepSpeed setup shared by every trainer (SFT, RL).

The DeepSpeed config is generated from our typed config (ZeRO-2, micro-batch, accumulation, clipping, bf16) or read
from a JSON file whose "auto" values are filled from it. The optimizer is torch AdamW (fused on CUDA) handed to
DeepSpeed as a client optimizer, so the same code runs on the CPU test machines without a JIT-compiled Adam op.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModel

import inference  # noqa: F401  (registers model_type "llada" with the Auto classes)
from inference.adapters import ModelAdapter, get_adapter
from inference.hub_tokenizer import check_tokenizer_ids
from inference.loading import ADAPTER_CONFIG, check_model_source, load_tokenizer
from train import dist
from train.config import ConfigError


@dataclass
class LoraSettings:
    enabled: bool = True  # train a LoRA adapter (false: full fine-tune of every weight)
    r: int = 64  # LoRA rank
    alpha: int = 128  # LoRA scaling numerator (the update is scaled by alpha / r)
    dropout: float = 0.1  # dropout on the LoRA branch's input
    target_modules: str | None = None  # modules to adapt; None: the adapter's 7 block linears (no LM head)


@dataclass
class OptimSettings:
    lr: float = 5e-5  # peak learning rate (AdamW), reached after warmup
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    warmup_ratio: float = 0.1  # fraction of the steps with linear warmup from 0 to lr
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio at the last step
    max_grad_norm: float = 1.0  # gradient clipping (DeepSpeed gradient_clipping)


@dataclass
class EngineSettings:
    model: str = "runs/tiny-model"  # local directory or Hub name (e.g. GSAI-ML/LLaDA-8B-Instruct)
    trust_remote_code: bool = False  # let transformers run the model repository's own Python code
    init_adapter: str | None = None  # a peft adapter dir (e.g. an SFT export) merged into the base before training
    lora: LoraSettings = field(default_factory=LoraSettings)  # the LoRA adapter trained on the base
    optim: OptimSettings = field(default_factory=OptimSettings)  # AdamW and its cosine schedule with warmup
    micro_batch_size: int = 1  # rows per forward pass and rank
    grad_accum: int = 1  # micro-batches per optimizer step (global batch = micro x accum x ranks)
    bf16: str = "auto"  # DeepSpeed bf16 weights: "auto" (when CUDA supports it) | "true" | "false"
    # "bf16": torch.autocast around the forward with fp32 weights and optimizer (DeepSpeed torch_autocast); on CPUs
    # with AVX512-BF16 the matmuls run ~1.9x faster (measured on this 2-core EPYC). "none": plain fp32 / the bf16 flag.
    autocast: str = "none"  # "none" | "bf16": autocast the forward in bf16, fp32 weights and optimizer
    gradient_checkpointing: bool = True  # recompute activations in the backward: less memory, more compute
    zero_stage: int = 2  # DeepSpeed ZeRO stage (2: optimizer state and gradients sharded over ranks)
    deepspeed_config: str | None = None  # optional JSON file; its "auto" values are filled from the fields above


@dataclass
class RunSettings(EngineSettings):
    """What every training run shares beyond the engine: where it writes, how often it logs and saves."""

    output_dir: str = "runs/run"  # checkpoints, metrics.jsonl, config.yaml, the final export (OUTPUT/final)
    seed: int = 0  # seeds data order, masks and sampling (with the rank and step)
    log_every: int = 1  # steps between rows of metrics.jsonl (and wandb)
    save_every: int = 100  # steps between resumable checkpoints; 0 = only the final one
    keep_last: int = 2  # resumable checkpoints kept (older ones are deleted)
    export_merged: bool = False  # also export LoRA merged into the base (OUTPUT/final/merged)
    # The last step's DeepSpeed state (optimizer moments: 2x the trainable weights) for continuing training later;
    # false writes only the Hugging Face export (a full fine-tune of the small minicode model: 160 MB less).
    save_final_state: bool = True  # keep the last step's resumable DeepSpeed state beside the export
    use_wandb: bool = True  # log to Weights & Biases as well (WANDB_MODE=offline / disabled are honoured)
    wandb_project: str = "diffucode"  # wandb project name
    run_name: str = "run"  # wandb run name


def use_bf16(setting: str) -> bool:
    choices = {"auto": torch.cuda.is_available() and torch.cuda.is_bf16_supported(), "true": True, "false": False}
    setting = str(setting).lower()  # OmegaConf turns a CLI `bf16=false` into the string "False"
    if setting not in choices:
        raise ConfigError(f"bf16 must be one of {sorted(choices)}, got {setting!r}")
    return choices[setting]


def autocast_bf16(setting: str) -> bool:
    if setting not in ("none", "bf16"):
        raise ConfigError(f"autocast must be 'none' or 'bf16', got {setting!r}")
    return setting == "bf16"
def check_engine_settings(s: EngineSettings) -> None:
    """Refuse, before any rank starts work, what the engine could not load: model, initial adapter, config files."""
    for key in ("micro_batch_size", "grad_accum"):
        if getattr(s, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(s, key)}")
    if s.save_every < 0:
        raise ConfigError(f"save_every must be >= 0 (0: only the final checkpoint), got {s.save_every}")
    check_model_source(s.model, "model")
    if s.init_adapter and not (Path(s.init_adapter) / ADAPTER_CONFIG).is_file():
        raise ConfigError(f"init_adapter {s.init_adapter} is not a peft adapter directory (no {ADAPTER_CONFIG}); "
                          "give a training run's OUTPUT/final/adapter")
    use_bf16(s.bf16)
    autocast_bf16(s.autocast)
    if s.deepspeed_config is not None:
        _read_deepspeed_json(s.deepspeed_config)


def _read_deepspeed_json(path: str) -> dict:
    try:
        with open(path) as f:
            given = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"deepspeed_config file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}: deepspeed_config is not valid JSON ({e.msg})") from None
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: deepspeed_config must be a JSON object")
    return given


def deepspeed_config(s: EngineSettings) -> dict:
    generated = {
        "train_micro_batch_size_per_gpu": s.micro_batch_size,
        "gradient_accumulation_steps": s.grad_accum,
        "train_batch_size": s.micro_batch_size * s.grad_accum * dist.world_size(),
        "gradient_clipping": s.optim.max_grad_norm,
        "zero_optimization": {"stage": s.zero_stage, "contiguous_gradients": True, "overlap_comm": False},
        "bf16": {"enabled": use_bf16(s.bf16)},
        **({"torch_autocast": {"enabled": True, "dtype": "bfloat16"}} if autocast_bf16(s.autocast) else {}),
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if s.deepspeed_config is None:
        return generated
    return _fill_auto(_read_deepspeed_json(s.deepspeed_config), generated)


def _fill_auto(given: dict, generated: dict) -> dict:
    out = dict(generated)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(generated.get(key), dict):
            out[key] = _fill_auto(value, generated[key])
        elif value != "auto":
            out[key] = value
    return out


def cosine_with_warmup(total_steps: int, warmup_ratio: float, min_lr_ratio: float):
    warmup = max(1, int(round(total_steps * warmup_ratio))) if warmup_ratio > 0 else 0

    def factor(step: int) -> float:  # step = optimizer steps taken so far
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def load_dtype(s: EngineSettings) -> torch.dtype:
    """The dtype the base is loaded in: the training dtype. DeepSpeed's bf16 mode casts the module to bf16 anyway
    (its fp32 master copy of the trainable weights is made from those bf16 values), so loading in bf16 gives the same
    run at half the host RAM per rank (16 GB instead of 32 GB for LLaDA-8B); autocast keeps fp32 weights."""
    return torch.bfloat16 if use_bf16(s.bf16) and not autocast_bf16(s.autocast) else torch.float32


def load_model_and_tokenizer(s: EngineSettings):
    tokenizer = load_tokenizer(s.model, trust_remote_code=s.trust_remote_code)  # before the weights: fails fast
    # low_cpu_mem_usage: transformers 4.x then loads the shards into an empty (meta) model instead of a randomly
    # initialised one (one copy of the weights in host RAM, not two); 5.x always does and ignores the flag.
    model = AutoModel.from_pretrained(s.model, trust_remote_code=s.trust_remote_code, dtype=load_dtype(s),
                                      low_cpu_mem_usage=True)
    if s.init_adapter:
        from peft import PeftModel

        # Merged, so a new LoRA trains on top and "adapter disabled" means the initial (e.g. SFT) model.
        model = PeftModel.from_pretrained(model, s.init_adapter).merge_and_unload()
    adapter = get_adapter(model.config)
    check_tokenizer_ids(tokenizer, model.config)
    return model, tokenizer, adapter


def wrap_lora(model, s: LoraSettings, adapter: ModelAdapter):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=s.r, lora_alpha=s.alpha, lora_dropout=s.dropout,
                        target_modules=s.target_modules or adapter.lora_target_modules, bias="none")
    return get_peft_model(model, config)


# Deprecations inside DeepSpeed / peft / transformers that our calls cannot avoid; printed once per rank and step
# they bury the run's own output. Our code uses the new names where both exist.
THIRD_PARTY_DEPRECATIONS = (r".*all_gather_into_tensor.* is deprecated", r".*is_gradient_checkpointing.* is deprecated")


def build_engine(s: EngineSettings, total_steps: int):
    """(engine, tokenizer, adapter): model loaded, LoRA-wrapped, checkpointed, inside DeepSpeed ZeRO."""
    import deepspeed

    for message in THIRD_PARTY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)
    model, tokenizer, adapter = load_model_and_tokenizer(s)
    if s.gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if s.lora.enabled:
        model = wrap_lora(model, s.lora, adapter)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=s.optim.lr, betas=tuple(s.optim.betas),
                                  weight_decay=s.optim.weight_decay, fused=torch.cuda.is_available())
    schedule = cosine_with_warmup(total_steps, s.optim.warmup_ratio, s.optim.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler,
                                           config=deepspeed_config(s))
    return engine, tokenizer, adapter


def grad_norm(engine) -> float | None:
    """The global gradient norm of the last optimizer step, before clipping (None before the first step)."""
    norm = engine.get_global_grad_norm()
    return float(norm) if norm is not None else None


def count_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
