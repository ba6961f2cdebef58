"""The LM head on selected positions only (what the SFT loss reads) and CPU reduced-precision attention."""

import torch
from transformers import AutoModel

import inference  # noqa: F401  (registers the model types)
from inference.adapters import get_adapter, selected_token_logits, token_logits
from inference.modeling_common import bidirectional_attention, padding_bias
from train.loss import loss_parts


def _batch(vocab: int, B: int = 3, L: int = 14, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (B, L), generator=g)
    att = torch.ones(B, L, dtype=torch.long)
    att[1, :3] = 0  # one left-padded row
    picked = torch.rand(B, L, generator=g) < 0.5
    picked[0, 0] = picked[0, 1] = True  # position 0 and 1 together: Dream scores both from position 0
    return ids, att, picked


def _check_family(model_dir):
    model = AutoModel.from_pretrained(model_dir).eval()
    adapter = get_adapter(model.config)
    ids, att, picked = _batch(model.config.vocab_size)
    with torch.no_grad():
        full = token_logits(model, ids, att, adapter)  # [B, L, V]
        sel = selected_token_logits(model, ids, att, adapter, picked)  # [N, V]
    assert sel.shape == (int(picked.sum()), full.shape[-1])
    torch.testing.assert_close(sel, full[picked], rtol=1e-5, atol=1e-5)
    # the SFT loss is the same whichever logits it is given
    p = torch.full(ids.shape, 0.5)
    a, b = loss_parts(full, ids, picked, p, torch.ones_like(picked)), loss_parts(sel, ids, picked, p, torch.ones_like(picked))
    torch.testing.assert_close(a.weighted_ce, b.weighted_ce, rtol=1e-5, atol=1e-5)


def test_selected_logits_equal_full_logits_llada(tiny_model_dir):
    _check_family(tiny_model_dir)


def test_selected_logits_equal_full_logits_dream_shift(tiny_dream_dir):
    _check_family(tiny_dream_dir)


def test_padding_bias_is_none_when_all_attended():
    assert padding_bias(torch.ones(2, 5, dtype=torch.long), torch.float32) is None
    bias = padding_bias(torch.tensor([[0, 1, 1]]), torch.float32)
    assert bias.shape == (1, 1, 1, 3) and bias[0, 0, 0, 0] < -1e30 and bias[0, 0, 0, 1:].eq(0).all()


def test_cpu_bf16_attention_is_computed_in_fp32_also_under_autocast():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    bias = padding_bias(torch.tensor([[1] * 7, [0, 0] + [1] * 5]), torch.float32)
    ref = bidirectional_attention(q, k, v, bias)  # fp32
    qb, kb, vb = (t.bfloat16() for t in (q, k, v))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bidirectional_attention(qb, kb, vb, bias)
    assert out.dtype == torch.bfloat16
    # inputs rounded to bf16, then exact fp32 math: the same as fp32 attention on the rounded inputs
    exact = bidirectional_attention(qb.float(), kb.float(), vb.float(), bias).bfloat16()
    torch.testing.assert_close(out, exact, rtol=0, atol=0)
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
