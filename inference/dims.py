"""The sizes that memory and FLOPs estimates need, read from a model config of either family (no weights loaded).

`model_dims` names each family's config fields once (LLaDA: d_model / n_layers / ffn hidden; Dream: hidden_size /
num_hidden_layers / intermediate_size), and counts parameters exactly by building the model on the `meta` device
(no memory); `lora_parameters` counts what peft's LoRA adds on the adapter's target modules, with peft itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import inference  # noqa: F401  (registers the model types with the Auto classes)
from inference.adapters import get_adapter


@dataclass(frozen=True)
class ModelDims:
    n_params: int  # all parameters (embedding and LM head included)
    n_embedding: int  # input embedding parameters (a lookup: no matmul FLOPs)
    n_layers: int
    d_model: int
    ffn_hidden: int  # MLP hidden size (SwiGLU: gate and up project to it)
    vocab: int  # LM head rows (the padded embedding size)

    @property
    def n_matmul(self) -> int:
        """Parameters that take part in a matmul for every token (all but the input embedding)."""
        return self.n_params - self.n_embedding


DIM_FIELDS = {  # model_type -> (d_model, n_layers, ffn hidden) field names of its config
    "llada": ("d_model", "n_layers", "ffn_hidden_size"),
    "Dream": ("hidden_size", "num_hidden_layers", "intermediate_size"),
}


def _meta_model(config):
    from transformers import AutoModel

    with torch.device("meta"):
        return AutoModel.from_config(config)


def model_dims(config) -> ModelDims:
    if config.model_type not in DIM_FIELDS:
        raise ValueError(f"no dimensions known for model_type {config.model_type!r}; known: {sorted(DIM_FIELDS)}")
    d, layers, hidden = (getattr(config, name) for name in DIM_FIELDS[config.model_type])
    model = _meta_model(config)
    embedding = model.get_input_embeddings().weight
    return ModelDims(n_params=sum(p.numel() for p in model.parameters()), n_embedding=embedding.numel(),
                     n_layers=layers, d_model=d, ffn_hidden=hidden, vocab=model.get_output_embeddings().weight.shape[0])


def lora_parameters(config, r: int, target_modules=None) -> int:
    """Trainable parameters of a rank-r LoRA on `target_modules` (default: the adapter's), counted by peft."""
    from peft import LoraConfig, get_peft_model

    targets = target_modules or get_adapter(config).lora_target_modules
    model = get_peft_model(_meta_model(config), LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
