"""Dream's diffusion_generate mode against a transcription of the reference, plus infill / fast modes on Dream."""

import importlib.util
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from inference.sampler import SAMPLERS, generate, infill
from inference.sampler_dream import diffusion_generate, top_k_filter, top_p_filter, transfer_count

_spec = importlib.util.spec_from_file_location("reference_dream_sampler",
                                               Path(__file__).with_name("reference_dream_sampler.py"))
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


@pytest.fixture(scope="module")
def dream(tiny_dream_dir):
    return AutoModel.from_pretrained(tiny_dream_dir).eval()


def _prompts(model, lengths, seed=0):
    """Left-padded random prompts [B, P] (pad = EOS) and their attention mask (None when all lengths are equal)."""
    g = torch.Generator().manual_seed(seed)
    P = max(lengths)
    ids = torch.full((len(lengths), P), model.config.pad_token_id, dtype=torch.long)
    att = torch.zeros(len(lengths), P, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, P - n:] = torch.randint(10, 4000, (n,), generator=g)
        att[i, P - n:] = 1
    return ids, (None if len(set(lengths)) == 1 else att)


def _ref(model, ids, att, gen_length, **kw):
    return reference.reference_diffusion_generate(model, ids, att, max_new_tokens=gen_length,
                                                  mask_token_id=model.config.mask_token_id, **kw)


@pytest.mark.parametrize("alg", ["origin", "maskgit_plus", "topk_margin", "entropy"])
@pytest.mark.parametrize("lengths,steps,gen_length", [([7], 16, 16), ([9, 4, 6], 8, 24), ([5, 8], 20, 20)])
def test_equals_reference_at_temperature_zero(dream, alg, lengths, steps, gen_length):
    ids, att = _prompts(dream, lengths, seed=len(lengths))
    kw = dict(steps=steps, alg=alg, temperature=0.0)
    gen = torch.Generator().manual_seed(3)  # "origin" draws which positions to commit even at temperature 0
    out = diffusion_generate(dream, ids, att, gen_length=gen_length, generator=gen, **kw)
    ref = _ref(dream, ids, att, gen_length, generator=torch.Generator().manual_seed(3), **kw)
    assert torch.equal(out.sequences, ref)
    assert not (out.sequences == dream.config.mask_token_id).any()
    assert out.nfe <= steps and out.confidences.shape == (len(lengths), gen_length)


@pytest.mark.parametrize("alg,extra", [("maskgit_plus", dict(top_p=0.9)), ("entropy", dict(top_k=5)),
                                       ("topk_margin", dict(alg_temp=0.5)), ("origin", dict(temperature=0.7))])
def test_equals_reference_with_top_p_top_k_alg_temp_and_sampling(dream, alg, extra):
    ids, att = _prompts(dream, [6, 9], seed=11)
    kw = dict(steps=12, alg=alg, **extra)
    out = diffusion_generate(dream, ids, att, gen_length=12, generator=torch.Generator().manual_seed(5), **kw)
    ref = _ref(dream, ids, att, 12, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(out.sequences, ref)


def test_schedule_counts_match_the_reference_formula():
    masked = torch.ones(2, 16, dtype=torch.bool)
    ts = torch.linspace(1, 1e-3, 17)
    counts = [transfer_count(masked, ts[i], ts[i + 1], i == 15) for i in range(16)]
    assert counts[0] == int(torch.tensor(16.0) * (1 - ts[1] / ts[0])) == 0  # steps == length: nothing at step 0
    assert counts[-1] == 16 and all(c <= 16 for c in counts)


def test_filters_keep_the_head_of_the_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert (top_p_filter(logits, 0.7) > -1e30).tolist() == [[True, True, False, False]]
    assert (top_k_filter(logits, 3) > -1e30).tolist() == [[True, True, True, False]]


def test_dispatch_trajectory_and_confidences(dream):
    ids, _ = _prompts(dream, [6])
    out = SAMPLERS["dream"](dream, ids, steps=8, gen_length=8, alg="maskgit_plus", return_trajectory=True)
    assert len(out.trajectory) == len(out.trajectory_predictions) == out.nfe
    assert torch.equal(out.trajectory[-1], out.sequences)
    assert ((out.confidences > 0) & (out.confidences <= 1)).all()
    with pytest.raises(ValueError, match="unknown alg"):
        diffusion_generate(dream, ids, steps=4, gen_length=4, alg="nope")


def test_masks_in_the_prompt_are_filled(dream):
    """Dream's infill convention: mask tokens already in the input are denoised with the completion."""
    ids, _ = _prompts(dream, [10], seed=2)
    ids[0, 3:6] = dream.config.mask_token_id
    out = diffusion_generate(dream, ids, steps=8, gen_length=8, alg="entropy")
    assert not (out.sequences == dream.config.mask_token_id).any()
    assert torch.equal(out.sequences[0, :3], ids[0, :3]) and torch.equal(out.sequences[0, 6:10], ids[0, 6:10])


def test_semi_ar_infill_and_fast_modes_run_on_dream(dream):
    """The block sampler, infill, threshold and prefix cache take the logit shift from the adapter."""
    mask = dream.config.mask_token_id
    ids, att = _prompts(dream, [7, 4], seed=7)
    setting = dict(steps=16, gen_length=16, block_length=8)
    plain = generate(dream, ids, att, **setting)
    assert not (plain.sequences == mask).any()
    same = generate(dream, ids, att, threshold=1.0, **setting)
    assert torch.equal(plain.sequences, same.sequences)
    eager = generate(dream, ids, att, threshold=0.0, **setting)
    assert eager.nfe == 2 and not (eager.sequences == mask).any()
    cached = generate(dream, ids, att, use_cache=True, **setting)
    assert cached.nfe == 16 and not (cached.sequences == mask).any()
    # the first block is decoded from a fresh full forward in both: identical
    assert torch.equal(cached.sequences[:, :15], plain.sequences[:, :15])
    positions = torch.zeros_like(plain.sequences, dtype=torch.bool)
    positions[:, 9:14] = True
    full_att = torch.cat([att, torch.ones(2, 16, dtype=torch.long)], 1)
    fixed = infill(dream, plain.sequences, positions, steps=5, attention_mask=full_att)
    assert torch.equal(fixed.sequences[~positions], plain.sequences[~positions])
    assert not (fixed.sequences == mask).any() and fixed.nfe == 5


@pytest.mark.parametrize("alg,extra", [("origin", {}), ("entropy", {}), ("topk_margin", dict(alg_temp=0.5))])
def test_per_row_generators_make_rows_independent_of_the_batch(dream, alg, extra):
    """One generator per row (RL's rollouts): a row samples what it samples alone, and a batch of one with [g] is
    the single-stream sampler with g (so the reference comparisons above cover the per-row draws' law)."""
    ids, _ = _prompts(dream, [6, 6, 6], seed=4)
    kw = dict(steps=8, gen_length=12, alg=alg, temperature=1.0, **extra)
    gens = lambda: [torch.Generator().manual_seed(s) for s in (11, 12, 13)]  # noqa: E731
    batch = diffusion_generate(dream, ids, generator=gens(), **kw)
    for b in range(3):
        alone = diffusion_generate(dream, ids[b:b + 1], generator=[gens()[b]], **kw)
        assert torch.equal(batch.sequences[b], alone.sequences[0])
        single = diffusion_generate(dream, ids[b:b + 1], generator=gens()[b], **kw)
        assert torch.equal(single.sequences, alone.sequences)
    assert len({tuple(s.tolist()) for s in batch.sequences[:, 6:]}) == 3
    with pytest.raises(ValueError, match="per-row generators"):
        diffusion_generate(dream, ids, generator=gens()[:2], **kw)
