"""The Dream architecture: logits against transformers' Qwen2 (same weights, bidirectional mask), the Hub layout and
Auto registration, the 7B parameter counts, the prefix cache, gradient checkpointing and the adapter's shift."""

import json

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModel, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from inference.adapters import align_logits, get_adapter, token_logits
from inference.configuration_dream import DIFFUCODER_7B, DREAM_7B, DREAM_7B_PARAMETERS, DreamConfig
from inference.modeling_common import output_cache
from inference.modeling_dream import DreamModel, default_positions


@pytest.fixture()
def dream(tiny_dream_dir):
    return AutoModel.from_pretrained(tiny_dream_dir).eval()


def qwen2_twin(model: DreamModel) -> Qwen2ForCausalLM:
    """transformers' own Qwen2 with the Dream model's config values and state dict (strict load)."""
    c = model.config
    q = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_key_value_heads, max_position_embeddings=c.max_position_embeddings,
        rms_norm_eps=c.rms_norm_eps, rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta},
        tie_word_embeddings=False, attn_implementation="sdpa"))
    q.load_state_dict(model.state_dict(), strict=True)
    return q.eval()


def _ids(model, B=3, L=14, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(10, model.config.vocab_size - 100, (B, L), generator=g)


@pytest.mark.parametrize("left_pad", [False, True])
def test_logits_equal_qwen2_with_bidirectional_mask(dream, left_pad):
    ids = _ids(dream)
    att = torch.ones_like(ids)
    if left_pad:
        att[0, :5], att[1, :2] = 0, 0
        ids = ids.masked_fill(att == 0, dream.config.pad_token_id)
    keep = att.bool()
    bidirectional = keep[:, None, None, :].expand(-1, 1, ids.shape[1], -1)  # [B, 1, L, L]: every real key, no causality
    positions = (att.cumsum(-1) - 1).masked_fill(att == 0, 1)
    with torch.no_grad():
        ours = dream(input_ids=ids, attention_mask=att).logits
        ref = qwen2_twin(dream)(input_ids=ids, attention_mask=bidirectional, position_ids=positions).logits
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours[keep], ref[keep], atol=1e-4, rtol=0)


def test_attention_is_bidirectional_and_positions_follow_the_mask(dream):
    ids = _ids(dream, B=1)
    changed = ids.clone()
    changed[0, -1] += 1
    with torch.no_grad():
        assert not torch.allclose(dream(changed).logits[0, 0], dream(ids).logits[0, 0])
    att = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert default_positions(att, 0, 5, 2, att.device).tolist() == [[1, 1, 0, 1, 2], [0, 1, 2, 3, 4]]
    assert default_positions(att, 0, 2, 2, att.device).tolist() == [[1, 2], [3, 4]]  # cached prefix: the tail


def test_dream_sampler_style_4d_mask_gives_the_same_logits(dream):
    """Dream's diffusion_generate passes a 4D bool mask (padded query rows all False) and its own positions."""
    ids = _ids(dream)
    att = torch.ones_like(ids)
    att[0, :4] = 0
    keep = att.bool()
    four_d = keep[:, None, None, :] & keep[:, None, :, None]
    pos = (att.cumsum(-1) - 1).masked_fill(att == 0, 1)
    with torch.no_grad():
        a = dream(ids, att).logits
        b = dream(ids, four_d, pos).logits
        c = dream(ids, "full").logits
    assert not b[keep].isnan().any()
    torch.testing.assert_close(a[keep], b[keep], atol=1e-5, rtol=0)
    torch.testing.assert_close(c[1:], dream(ids[1:]).logits, atol=1e-6, rtol=0)


def test_hub_layout_loads_without_trust_remote_code(tmp_path):
    """A checkpoint dir shaped like Dream-org / apple/DiffuCoder (their config.json fields, auto_map, Qwen2 weight
    names) loads through AutoConfig / AutoModel into this implementation, weights intact."""
    small = dict(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, mask_token_id=250, pad_token_id=0, bos_token_id=0, eos_token_id=0)
    hub = {**DIFFUCODER_7B, **small, "model_type": "Dream", "architectures": ["DreamModel"], "torch_dtype": "float32",
           "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"}}
    (tmp_path / "config.json").write_text(json.dumps(hub))
    cfg = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(cfg, DreamConfig) and cfg.rope_theta == 1e6 and cfg.max_position_embeddings == 32768
    torch.manual_seed(0)
    qwen = Qwen2ForCausalLM(Qwen2Config(**{k: v for k, v in small.items() if k != "mask_token_id"},
                                        tie_word_embeddings=False))
    weights = {k: v.contiguous() for k, v in qwen.state_dict().items()}  # the Qwen2 names, as on the Hub
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    model = AutoModel.from_pretrained(tmp_path)
    assert isinstance(model, DreamModel)
    assert set(model.state_dict()) == set(weights)
    assert all(torch.equal(model.state_dict()[k], w) for k, w in weights.items())
    assert "model.layers.0.self_attn.q_proj.bias" in weights and "model.layers.0.self_attn.o_proj.bias" not in weights
    adapter = get_adapter(model.config)
    assert (adapter.family, adapter.mask_token_id, adapter.eos_token_id, adapter.shift_logits) == ("dream", 250, 0, True)


@pytest.mark.parametrize("fields", [DREAM_7B, DIFFUCODER_7B], ids=["Dream-v0-Base-7B", "DiffuCoder-7B-Instruct"])
def test_7b_configs_instantiate_on_meta_with_the_hub_parameter_count(fields):
    with torch.device("meta"):
        model = DreamModel(DreamConfig(**fields))
    assert sum(p.numel() for p in model.parameters()) == DREAM_7B_PARAMETERS
    a = get_adapter(model.config)
    assert (a.mask_token_id, a.eos_token_id, a.shift_logits) == (151666, 151643, True)


def test_prefix_cache_matches_the_full_forward(dream):
    ids = _ids(dream, B=2, L=16)
    att = torch.ones_like(ids)
    att[0, :3] = 0
    with torch.no_grad():
        full = dream(ids, attention_mask=att, use_cache=True)
        cache = tuple((k[:, :, :9], v[:, :, :9]) for k, v in output_cache(full))
        tail = dream(ids[:, 9:], attention_mask=att, past_key_values=cache).logits
    torch.testing.assert_close(tail, full.logits[:, 9:], atol=1e-5, rtol=0)


def test_gradient_checkpointing_gives_the_same_gradients(dream):
    ids = _ids(dream, B=2, L=10)
    grads = []
    for ckpt in (False, True):
        dream.zero_grad()
        dream.train()
        if ckpt:
            dream.gradient_checkpointing_enable()
        dream(ids).logits.float().square().mean().backward()
        grads.append(dream.model.layers[0].self_attn.q_proj.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-5)


def test_tokenizer_mask_is_dream_mask_and_adapter_aligns_by_one(tiny_dream_dir, dream):
    tok = AutoTokenizer.from_pretrained(tiny_dream_dir)
    adapter = get_adapter(dream.config)
    assert tok.mask_token == "<|mask|>" and tok.mask_token_id == adapter.mask_token_id == dream.config.mask_token_id
    assert adapter.eos_token_id == tok.eos_token_id == tok.pad_token_id
    ids = _ids(dream, B=2, L=8)
    with torch.no_grad():
        raw = dream(ids).logits
        aligned = token_logits(dream, ids, None, adapter)
    torch.testing.assert_close(aligned[:, 1:], raw[:, :-1], atol=0, rtol=0)  # row i scores token i from i - 1
    torch.testing.assert_close(aligned[:, 0], raw[:, 0], atol=0, rtol=0)
    torch.testing.assert_close(align_logits(raw, adapter), aligned, atol=0, rtol=0)


def test_bf16_forward_is_close_to_fp32(dream):
    ids = _ids(dream, B=2, L=10)
    att = torch.ones_like(ids)
    att[0, :3] = 0
    with torch.no_grad():
        ref = dream(ids, attention_mask=att).logits
        low = dream.to(torch.bfloat16)(ids, attention_mask=att).logits
    assert low.dtype == torch.bfloat16 and torch.isfinite(low).all()
    torch.testing.assert_close(low.float()[att.bool()], ref[att.bool()], atol=2e-2, rtol=2e-2)
