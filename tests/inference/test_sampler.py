import importlib.util
from pathlib import Path

import pytest
import torch

from inference.sampler import generate, infill, step_schedule
from inference.sampler_forward import Forward, forward

# Loaded by path: the tests dir is not a package (and site-packages may hold an unrelated `tests`).
_spec = importlib.util.spec_from_file_location("reference_sampler", Path(__file__).with_name("reference_sampler.py"))
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


def _prompts(model, lengths, seed=0, pad_id=None):
    """Left-padded random prompts [B, P] and their attention mask (None when all lengths are equal)."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    P = max(lengths)
    ids = torch.full((len(lengths), P), cfg.eos_token_id if pad_id is None else pad_id, dtype=torch.long)
    att = torch.zeros(len(lengths), P, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, P - n:] = torch.randint(10, 4000, (n,), generator=g)
        att[i, P - n:] = 1
    return ids, (None if len(set(lengths)) == 1 else att)


def _ref(model, ids, att, **kw):
    cfg = model.config
    return reference.reference_generate(model, ids, att, mask_id=cfg.mask_token_id, eos_id=cfg.eos_token_id,
                                        eot_id=kw.pop("eot_id", None), **kw)


SETTINGS = [
    dict(steps=16, gen_length=16, block_length=16),
    dict(steps=8, gen_length=16, block_length=4),  # 2 steps per block of 4: two commits per step
    dict(steps=12, gen_length=24, block_length=8),  # 4 steps per 8: n % s = 0; below, 5 per 8 gives remainders
    dict(steps=15, gen_length=24, block_length=8),
]


@pytest.mark.parametrize("lengths", [[7], [9, 4, 6]])
@pytest.mark.parametrize("setting", SETTINGS)
def test_equals_reference_at_temperature_zero(tiny_model, lengths, setting):
    ids, att = _prompts(tiny_model, lengths)
    out = generate(tiny_model, ids, att, **setting)
    assert torch.equal(out.sequences, _ref(tiny_model, ids, att, **setting))
    assert out.sequences.shape == (len(lengths), max(lengths) + setting["gen_length"])
    assert out.nfe == setting["steps"]
    assert not (out.sequences == tiny_model.config.mask_token_id).any()


def test_equals_reference_over_a_long_generation_with_confidence_ties(tiny_model):
    """One token per step: the random model's masked positions often tie exactly in confidence,
    so this pins the reference's tie-breaking (1-D top-k per row, softmax including the [MASK] mass)."""
    ids, att = _prompts(tiny_model, [12, 5, 9, 3], seed=5)  # seed 5: a tie the [MASK]-less softmax breaks wrongly
    setting = dict(steps=64, gen_length=64, block_length=32)
    assert torch.equal(generate(tiny_model, ids, att, **setting).sequences, _ref(tiny_model, ids, att, **setting))


@pytest.mark.parametrize("lengths", [[6], [8, 5]])
def test_equals_reference_with_cfg(tiny_model, lengths):
    ids, att = _prompts(tiny_model, lengths, seed=1)
    setting = dict(steps=8, gen_length=16, block_length=8, cfg_scale=1.5)
    out = generate(tiny_model, ids, att, **setting)
    assert torch.equal(out.sequences, _ref(tiny_model, ids, att, **setting))
    assert out.nfe == 2 * setting["steps"]


def test_equals_reference_with_random_remasking(tiny_model):
    ids, att = _prompts(tiny_model, [8, 5], seed=2)
    setting = dict(steps=8, gen_length=16, block_length=8, remasking="random")
    out = generate(tiny_model, ids, att, generator=torch.Generator().manual_seed(7), **setting)
    ref = _ref(tiny_model, ids, att, generator=torch.Generator().manual_seed(7), **setting)
    assert torch.equal(out.sequences, ref)


def test_equals_reference_with_eos_options(tiny_model):
    ids, att = _prompts(tiny_model, [6, 6], seed=3)
    eot = 3
    setting = dict(steps=8, gen_length=16, block_length=8, logits_eos_inf=True, confidence_eos_eot_inf=True)
    out = generate(tiny_model, ids, att, eot_id=eot, **setting)
    assert torch.equal(out.sequences, _ref(tiny_model, ids, att, eot_id=eot, **setting))
    assert not (out.sequences[:, 6:] == tiny_model.config.eos_token_id).any()


def test_step_schedule_spreads_remainder_first():
    masked = torch.tensor([[True] * 7 + [False], [True] * 8])
    assert step_schedule(masked, 3).tolist() == [[3, 2, 2], [3, 3, 2]]


def test_confidences_are_committed_probabilities(tiny_model):
    ids, _ = _prompts(tiny_model, [6])
    out = generate(tiny_model, ids, steps=4, gen_length=4, block_length=4, return_trajectory=True)
    assert out.confidences.shape == (1, 4)
    # the last committed token's probability equals its softmax probability in the final step's forward
    prev = out.trajectory[-2]
    pos = (prev[0] == tiny_model.config.mask_token_id).nonzero().item()
    with torch.no_grad():
        p = torch.softmax(tiny_model(prev).logits[0, pos], -1)[out.sequences[0, pos]]
    torch.testing.assert_close(out.confidences[0, pos - 6], p)


def test_trajectory_is_monotone_with_predictions(tiny_model):
    mask = tiny_model.config.mask_token_id
    ids, att = _prompts(tiny_model, [7, 3], seed=4)
    out = generate(tiny_model, ids, att, steps=8, gen_length=16, block_length=8, return_trajectory=True)
    assert len(out.trajectory) == len(out.trajectory_predictions) == 8
    assert torch.equal(out.trajectory[-1], out.sequences)
    prev = torch.cat([ids, torch.full((2, 16), mask)], 1)
    for state, pred in zip(out.trajectory, out.trajectory_predictions):
        committed = prev != mask
        assert torch.equal(state[committed], prev[committed])  # committed tokens never change
        assert (state == mask).sum() == (prev == mask).sum() - 4  # 2 per row per step
        assert not (pred == mask).any() and torch.equal(pred[state != mask], state[state != mask])
        prev = state


def test_threshold_one_equals_plain_and_zero_takes_one_step_per_block(tiny_model):
    ids, att = _prompts(tiny_model, [7, 4], seed=5)
    setting = dict(steps=16, gen_length=16, block_length=8)
    plain = generate(tiny_model, ids, att, **setting)
    same = generate(tiny_model, ids, att, threshold=1.0, **setting)
    assert torch.equal(plain.sequences, same.sequences) and same.nfe == plain.nfe
    eager = generate(tiny_model, ids, att, threshold=0.0, **setting)
    assert eager.nfe == 2 and not (eager.sequences == tiny_model.config.mask_token_id).any()


def test_prefix_cache_logits_equal_full_forward(tiny_model):
    """The cache mechanism itself: with an unchanged prefix, cached block logits == a full forward's."""
    mask = tiny_model.config.mask_token_id
    ids, att = _prompts(tiny_model, [9, 5], seed=6)
    x = torch.cat([ids, torch.full((2, 12), mask)], 1)
    x[:, 9:13] = torch.randint(10, 4000, (2, 4))
    att = torch.cat([att, torch.ones(2, 12, dtype=torch.long)], 1)
    for cfg_scale in (0.0, 2.0):
        fw = Forward(tiny_model, _adapter(tiny_model), cfg_scale, prompt_index=x != mask, cache="prefix")
        fw.window = (13, 21)
        with torch.no_grad():
            full, off_full, _ = forward(fw, x, att, refresh=True)
            part, off, nfe = forward(fw, x, att, refresh=False)
        assert off_full == 0 and off == 13 and nfe == (2 if cfg_scale else 1)
        torch.testing.assert_close(part, full[:, 13:], atol=1e-5, rtol=1e-5)


def _adapter(model):
    from inference.adapters import get_adapter

    return get_adapter(model.config)


def test_cached_sampler_runs_and_agrees_reasonably(tiny_model):
    ids, att = _prompts(tiny_model, [7, 4], seed=7)
    setting = dict(steps=16, gen_length=16, block_length=8)
    plain = generate(tiny_model, ids, att, **setting)
    cached = generate(tiny_model, ids, att, use_cache=True, return_trajectory=True, **setting)
    assert cached.nfe == 16 and len(cached.trajectory) == 16
    assert not (cached.sequences == tiny_model.config.mask_token_id).any()
    assert torch.equal(cached.sequences[:, :7], plain.sequences[:, :7])


def test_pad_equal_to_mask_is_rejected(tiny_model):
    ids, att = _prompts(tiny_model, [6, 3], pad_id=tiny_model.config.mask_token_id)
    with pytest.raises(ValueError, match="mask token"):
        generate(tiny_model, ids, att, steps=4, gen_length=4, block_length=4)


def test_sampling_is_reproducible_with_a_generator(tiny_model):
    ids, _ = _prompts(tiny_model, [6, 6], seed=8)
    kw = dict(steps=8, gen_length=8, block_length=8, temperature=1.0)
    a = generate(tiny_model, ids, generator=torch.Generator().manual_seed(0), **kw).sequences
    b = generate(tiny_model, ids, generator=torch.Generator().manual_seed(0), **kw).sequences
    c = generate(tiny_model, ids, generator=torch.Generator().manual_seed(1), **kw).sequences
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("n_remask,steps,nfe", [(12, 6, 6), (3, 6, 3)])
def test_infill_keeps_fixed_tokens_and_fills_every_mask(tiny_model, n_remask, steps, nfe):
    ids, att = _prompts(tiny_model, [10, 6], seed=9)
    seq = generate(tiny_model, ids, att, steps=8, gen_length=16, block_length=16).sequences
    g = torch.Generator().manual_seed(0)
    positions = torch.zeros_like(seq, dtype=torch.bool)
    for row in range(2):
        positions[row, 10 + torch.randperm(16, generator=g)[:n_remask]] = True
    conf = torch.full(seq.shape, 0.5)
    out = infill(tiny_model, seq, positions, steps=steps, temperature=0.2, attention_mask=torch.cat(
        [att, torch.ones(2, 16, dtype=torch.long)], 1), generator=g, confidences=conf, return_trajectory=True)
    assert torch.equal(out.sequences[~positions], seq[~positions])
    assert not (out.sequences == tiny_model.config.mask_token_id).any()
    assert out.nfe == nfe and len(out.trajectory) == nfe
    assert (out.confidences[~positions] == 0.5).all() and (out.confidences[positions] != 0.5).all()


def test_infill_at_temperature_zero_is_deterministic(tiny_model):
    ids, _ = _prompts(tiny_model, [8], seed=10)
    seq = generate(tiny_model, ids, steps=8, gen_length=8, block_length=8).sequences
    positions = torch.zeros_like(seq, dtype=torch.bool)
    positions[:, 9:13] = True
    a, b = (infill(tiny_model, seq, positions, steps=4).sequences for _ in range(2))
    assert torch.equal(a, b) and torch.equal(a[~positions], seq[~positions])


def test_threshold_mode_commits_at_least_one_token_per_step(tiny_model):
    """Fast-dLLM: with no probability above the threshold each step commits ONE token (not n // steps), whatever
    `steps` says; the random tiny model's probabilities are ~1/V, so 0.999 is never reached."""
    ids, att = _prompts(tiny_model, [7, 4], seed=11)
    out = generate(tiny_model, ids, att, steps=4, gen_length=16, block_length=8, threshold=0.999,
                   return_trajectory=True)
    mask = tiny_model.config.mask_token_id
    assert out.nfe == 16 and not (out.sequences == mask).any()
    left = [(s == mask).sum(dim=1) for s in out.trajectory]
    assert all(((a - b) == 1).all() for a, b in zip(left, left[1:]))


@pytest.mark.parametrize("temperature", [0.0, 0.5])
def test_cached_batched_generation_equals_per_row_cached_generation(tiny_model, temperature):
    """Prompts of different lengths (left padding + attention mask through the prefix cache): each row of the batch
    equals that prompt generated alone, also when sampling with one generator per row."""
    lengths = [9, 4, 6]
    ids, att = _prompts(tiny_model, lengths, seed=12)
    setting = dict(steps=16, gen_length=16, block_length=8, use_cache=True, temperature=temperature)

    def gens():
        return [torch.Generator().manual_seed(100 + b) for b in range(len(lengths))]

    batched = generate(tiny_model, ids, att, generator=gens(), **setting)
    P = max(lengths)
    for b, n in enumerate(lengths):
        alone = generate(tiny_model, ids[b:b + 1, P - n:], generator=[gens()[b]], **setting)
        assert torch.equal(batched.sequences[b, P - n:], alone.sequences[0]), b
        torch.testing.assert_close(batched.confidences[b], alone.confidences[0], atol=1e-5, rtol=1e-4)
        assert batched.row_nfe[b] == alone.nfe == 16


def test_per_row_generators_make_rows_independent_of_the_batch(tiny_model):
    """Random remasking and sampled infill with one generator per row: a row is the same alone or in a batch."""
    ids, att = _prompts(tiny_model, [8, 5], seed=13)
    seq = generate(tiny_model, ids, att, steps=8, gen_length=16, block_length=16).sequences
    positions = torch.zeros_like(seq, dtype=torch.bool)
    positions[:, 10:20] = True
    att_full = torch.cat([att, torch.ones(2, 16, dtype=torch.long)], 1)
    kw = dict(steps=5, temperature=0.7, remasking="random")
    both = infill(tiny_model, seq, positions, attention_mask=att_full,
                  generator=[torch.Generator().manual_seed(s) for s in (1, 2)], **kw)
    lead = 3  # row 1's left padding
    alone = infill(tiny_model, seq[1:, lead:], positions[1:, lead:], generator=[torch.Generator().manual_seed(2)], **kw)
    assert torch.equal(both.sequences[1, lead:], alone.sequences[0]) and both.row_nfe[1] == alone.nfe
