"""The base model is loaded in the training dtype (bf16 when configured), not in fp32 and cast later: 16 GB instead
of 32 GB of host RAM per rank for LLaDA-8B."""

import pytest
import torch

from train.engine import EngineSettings, load_model_and_tokenizer


@pytest.mark.parametrize("bf16, autocast, dtype", [("true", "none", torch.bfloat16), ("false", "none", torch.float32),
                                                   ("true", "bf16", torch.float32)])
def test_base_loads_in_the_training_dtype(tiny_model_dir, bf16, autocast, dtype):
    model, tokenizer, adapter = load_model_and_tokenizer(EngineSettings(model=str(tiny_model_dir), bf16=bf16,
                                                                        autocast=autocast))
    assert {p.dtype for p in model.parameters()} == {dtype}  # autocast trains fp32 weights under a bf16 autocast
    assert tokenizer.mask_token_id == adapter.mask_token_id


def test_bf16_engine_trains_from_the_bf16_base(tiny_model_dir):
    """DeepSpeed's bf16 mode on the bf16-loaded base: bf16 module, fp32 master weights of the LoRA parameters."""
    from train import dist
    from train.engine import build_engine

    dist.init_distributed()
    engine, _, _ = build_engine(EngineSettings(model=str(tiny_model_dir), bf16="true"), total_steps=1)
    assert {p.dtype for p in engine.module.parameters()} == {torch.bfloat16}
    masters = engine.optimizer.single_partition_of_fp32_groups
    assert masters and all(m.dtype == torch.float32 for m in masters)
