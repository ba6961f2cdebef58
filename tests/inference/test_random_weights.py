"""The Hub config.json files shipped in configs/models/ and the random-weight models built from them
(inference/random_weights.py, the GPU smoke test's offline stand-in for LLaDA-8B / Dream-7B)."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from inference.configuration_dream import DREAM_7B, DREAM_7B_PARAMETERS
from inference.configuration_llada import LLADA_8B_PARAMETERS, LLaDAConfig
from inference.dims import lora_parameters, model_dims
from inference.loading import load_model
from inference.random_weights import build_random_model, hub_config

REPO = Path(__file__).resolve().parents[2]
LLADA_JSON = REPO / "configs/models/llada-8b-instruct.config.json"
DREAM_JSON = REPO / "configs/models/dream-v0-instruct-7b.config.json"
SHRINK = {"llada": dict(d_model=64, n_heads=4, n_kv_heads=4, n_layers=1, mlp_hidden_size=128),
          "Dream": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=1,
                        intermediate_size=128)}


def test_shipped_configs_are_the_hub_checkpoints():
    """Cross-checked against the values this repository already holds for the 8B / 7B checkpoints."""
    dream = json.loads(DREAM_JSON.read_text())
    assert {k: dream[k] for k in DREAM_7B} == DREAM_7B and dream["model_type"] == "Dream"
    llada = json.loads(LLADA_JSON.read_text())
    defaults = LLaDAConfig().to_dict()  # every default of our LLaDAConfig is the 8B checkpoint's value
    same = {k for k in llada if k in defaults and k not in ("architectures", "auto_map", "transformers_version")}
    assert len(same) > 25 and {k: llada[k] for k in same} == {k: defaults[k] for k in same}


@pytest.mark.parametrize("path, params", [(LLADA_JSON, LLADA_8B_PARAMETERS), (DREAM_JSON, DREAM_7B_PARAMETERS)])
def test_dims_of_the_hub_configs(path, params):
    dims = model_dims(hub_config(path))
    assert dims.n_params == params
    assert dims.vocab * dims.d_model == dims.n_embedding  # untied: the head has as many rows as the embedding


def test_lora_parameter_count_of_llada_8b():
    # 32 layers x (4 x 64 x (4096 + 4096) + 3 x 64 x (4096 + 12288)), counted by peft on the meta model
    assert lora_parameters(hub_config(LLADA_JSON), 64) == 167_772_160


@pytest.mark.parametrize("path", [LLADA_JSON, DREAM_JSON], ids=["llada", "dream"])
def test_random_model_keeps_the_hub_vocabulary_and_ids(path, tmp_path):
    hub = json.loads(path.read_text())
    out = build_random_model(path, tmp_path / "m", overrides=SHRINK[hub["model_type"]], bpe_vocab=400,
                             corpus_chars=30_000)
    saved = json.loads((out / "config.json").read_text())
    kept = set(hub) - {"auto_map", "torch_dtype", "_name_or_path", "architectures", "transformers_version"}
    kept -= set(SHRINK[hub["model_type"]])
    # .get: transformers 5 writes Dream's rope_scaling (null) as rope_parameters
    assert {k: saved.get(k) for k in kept} == {k: hub[k] for k in kept}
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    loaded = load_model(out)  # the tokenizer ids are checked against the config on load
    tok = loaded.tokenizer
    assert (tok.mask_token_id, tok.eos_token_id) == (hub["mask_token_id"], hub["eos_token_id"])
    assert len(tok) <= hub["vocab_size"]
    ids = tok("def add(a, b):\n    return a + b")["input_ids"]
    assert max(ids) < 400 and tok.decode(ids) == "def add(a, b):\n    return a + b"
    if hub["model_type"] == "Dream":  # laid out as the Hub ships it: slow-tokenizer files only
        assert not (out / "tokenizer.json").exists() and (out / "vocab.json").exists()
