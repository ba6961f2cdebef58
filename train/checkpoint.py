"""Save, resume and export.

Layout in output_dir:
  checkpoints/step_000120/   DeepSpeed state (trained parameters only, ZeRO-partitioned optimizer, scheduler)
                             + train_state.json; a LoRA run's frozen base is not in it (it is the model path)
  final/adapter/             peft adapter (adapter_config.json + adapter_model.safetensors) + tokenizer
  final/merged/              optional: base + adapter merged, a plain `from_pretrained` directory
train_state.json holds step, data position and every rank's RNG states (base64), so a resumed run continues the
same data order and the same dropout / masking randomness.
"""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from inference.tiny import declare_standard_tokenizer_class
from train import dist

CKPT_DIR = "checkpoints"
STATE_FILE = "train_state.json"  # written last and atomically: its presence marks a checkpoint complete


def _encode(obj) -> str:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return base64.b64encode(buf.getvalue()).decode()


def _decode(text: str):
    return torch.load(io.BytesIO(base64.b64decode(text)), weights_only=False)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Checkpoint directories holding a train state, oldest first."""
    return sorted(p.parent for p in (Path(output_dir) / CKPT_DIR).glob(f"step_*/{STATE_FILE}"))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    done = complete_checkpoints(output_dir)
    return done[-1] if done else None


def save_checkpoint(engine, output_dir: str | Path, step: int, data_position: int, keep_last: int) -> Path:
    ckpt = Path(output_dir) / CKPT_DIR / f"step_{step:06d}"
    # Frozen parameters (a LoRA run's whole base) are not saved: a resume reloads them from the model path, as the
    # run's start did. With them, one LLaDA-8B LoRA checkpoint held the 16 GB base twice under ZeRO-2 (the module
    # state and its "frozen parameter fragments"); without them it is the adapter and its optimizer state.
    engine.save_checkpoint(str(ckpt.parent), tag=ckpt.name, exclude_frozen_parameters=True)
    states = _gather_rng()
    if dist.is_main():
        state = {"step": step, "data_position": data_position, "world_size": dist.world_size(), "rng": states}
        partial = ckpt / f"{STATE_FILE}.tmp"
        partial.write_text(json.dumps(state))
        partial.replace(ckpt / STATE_FILE)  # a kill mid-write leaves no half-written marker
        for old in complete_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    dist.barrier()
    return ckpt


def _gather_rng() -> list[str]:
    mine = _encode(rng_state())
    if dist.world_size() == 1:
        return [mine]
    out: list = [None] * dist.world_size()
    torch.distributed.all_gather_object(out, mine)
    return out


def _load_trained(src: dict, dst: torch.nn.Module) -> None:
    """Load a checkpoint's module state that holds the trained parameters only (save_checkpoint leaves the frozen
    ones out): strict about every trainable parameter, lenient about the frozen base, which stays as loaded."""
    result = dst.load_state_dict(src, strict=False)
    trainable = {name for name, p in dst.named_parameters() if p.requires_grad}
    missing = sorted(set(result.missing_keys) & trainable)
    if missing or result.unexpected_keys:
        raise ValueError(f"checkpoint does not match the model: {len(missing)} trained parameters missing "
                         f"{missing[:3]}, unexpected {result.unexpected_keys[:3]} (same model, LoRA settings?)")


def load_checkpoint(engine, ckpt: Path) -> dict:
    """Restore DeepSpeed state and this rank's RNG; returns the train state (step, data_position). The trained
    parameters come back from the checkpoint (ZeRO's fp32 master copies), the frozen base from the model path."""
    engine.load_checkpoint(str(ckpt.parent), tag=ckpt.name, custom_load_fn=_load_trained)
    state = json.loads((ckpt / STATE_FILE).read_text())
    if state["world_size"] == dist.world_size():
        set_rng_state(_decode(state["rng"][dist.rank()]))
    else:
        dist.print0(f"resuming on {dist.world_size()} ranks from {state['world_size']}: RNG streams restart")
    return state


def export_final(engine, tokenizer, output_dir: str | Path, merged: bool, adapter: bool = True) -> Path:
    """Hugging Face export on rank 0: the adapter (for a peft model, unless adapter=False) and optionally merged
    weights. A run started from `init_adapter` trained its LoRA on base + that adapter merged, so its adapter alone
    would load onto the wrong base: such runs export merged weights only."""
    final = Path(output_dir) / "final"
    model = engine.module
    if dist.is_main():
        if hasattr(model, "peft_config") and adapter:
            model.save_pretrained(final / "adapter")
            tokenizer.save_pretrained(final / "adapter")
            declare_standard_tokenizer_class(final / "adapter")
        if merged or not hasattr(model, "peft_config"):
            full = model.merge_and_unload() if hasattr(model, "peft_config") else model
            full.save_pretrained(final / "merged")
            tokenizer.save_pretrained(final / "merged")
            declare_standard_tokenizer_class(final / "merged")
    dist.barrier()
    return final
