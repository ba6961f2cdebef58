import json

import pytest
import torch
from peft import LoraConfig, get_peft_model

from inference import generate as generate_cli
from inference.adapters import get_adapter
from inference.loading import encode_prompts, format_prompt, load_model


@pytest.fixture(scope="module")
def exports(tiny_model_dir, tiny_tokenizer, tmp_path_factory):
    """A LoRA adapter with non-zero weights (no tokenizer: it must come from the base) and its merged export."""
    from transformers import AutoModel

    torch.manual_seed(0)
    base = AutoModel.from_pretrained(tiny_model_dir)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=get_adapter(base.config).lora_target_modules,
                     init_lora_weights=False)
    peft_model = get_peft_model(base, cfg)
    out = tmp_path_factory.mktemp("exports")
    peft_model.save_pretrained(out / "adapter")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(out / "merged")
    tiny_tokenizer.save_pretrained(out / "merged")
    return out


def _logits(loaded, ids):
    with torch.no_grad():
        return loaded.model(ids).logits


def test_adapter_logits_equal_merged_export(exports, tiny_model_dir):
    ids = torch.randint(10, 4000, (2, 12), generator=torch.Generator().manual_seed(0))
    adapter_dir = exports / "adapter"
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    via_adapter = load_model(adapter_dir)
    unmerged = load_model(adapter_dir, merge=False)
    merged = load_model(exports / "merged")
    base = load_model(tiny_model_dir)
    assert via_adapter.source == "adapter" and merged.source == "base"
    assert not via_adapter.model.training and via_adapter.device.type == "cpu"
    assert next(via_adapter.model.parameters()).dtype == torch.float32
    ref = _logits(merged, ids)
    torch.testing.assert_close(_logits(via_adapter, ids), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(_logits(unmerged, ids), ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(_logits(base, ids), ref, atol=1e-3)  # the adapter really changes the model
    # the adapter dir has no tokenizer: it comes from the base
    assert via_adapter.tokenizer.mask_token_id == base.tokenizer.mask_token_id
    assert via_adapter.adapter.mask_token_id == base.model.config.mask_token_id


def test_tiny_tokenizer_declares_the_class_every_supported_transformers_loads(tiny_model_dir, tiny_tokenizer):
    """transformers 5 would save "TokenizersBackend", which 4.x cannot resolve (issue 19)."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config = json.loads((tiny_model_dir / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    loaded = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert isinstance(loaded, PreTrainedTokenizerFast)
    assert (loaded.mask_token, loaded.eos_token, loaded.pad_token) == ("<|mdm_mask|>", "<|endoftext|>", "<|endoftext|>")
    assert loaded("def f(x):\n    return x")["input_ids"] == tiny_tokenizer("def f(x):\n    return x")["input_ids"]


def test_dtype_override(tiny_model_dir):
    loaded = load_model(tiny_model_dir, dtype="bf16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_chat_template_and_left_padding(tiny_tokenizer):
    text = format_prompt(tiny_tokenizer, "add two numbers", chat=True)
    assert text.startswith(tiny_tokenizer.bos_token) and text.endswith("assistant<|end_header_id|>\n\n")
    assert format_prompt(tiny_tokenizer, "x", chat=False) == "x"
    ids, att = encode_prompts(tiny_tokenizer, ["def f():", "import os\nimport sys\nx = 1"],
                              mask_id=tiny_tokenizer.mask_token_id)
    assert ids.shape == att.shape and att[1].all() and not att[0, 0]
    assert (ids[att == 0] == tiny_tokenizer.pad_token_id).all()
    with pytest.raises(ValueError, match="mask token"):
        encode_prompts(tiny_tokenizer, ["a"], mask_id=tiny_tokenizer.pad_token_id)


def test_cli_prints_a_completion(exports, capsys):
    text = generate_cli.main(["--model", str(exports / "adapter"), "--prompt", "def add(a, b):", "--gen-length",
                              "16", "--steps", "8", "--block-length", "8", "--chat", "--threshold", "0.9",
                              "--use-cache"])
    assert capsys.readouterr().out.strip() == text.strip()
