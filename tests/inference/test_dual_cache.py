"""Fast-dLLM's DualCache: the models' block-slice forward over a cached sequence, and the sampler's `dual_cache` mode.

The slice forward must equal the full forward on its rows when the cache is fresh (so its rotary positions and the
cached keys of the other positions are right); the sampler refreshed at every step must equal the uncached sampler
exactly; refreshed at block starts it runs the block alone in between, and still fills every mask."""

import pytest
import torch
from transformers import AutoModel

from inference.modeling_common import output_cache
from inference.sampler import generate


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_dream_dir):
    import inference  # noqa: F401  (registers the model types)

    return {"llada": AutoModel.from_pretrained(tiny_model_dir).eval(),
            "dream": AutoModel.from_pretrained(tiny_dream_dir).eval()}


def _prompts(model, lengths, seed=0):
    """Left-padded random prompts [B, P] (pad = EOS) and their attention mask (None when all lengths are equal)."""
    g = torch.Generator().manual_seed(seed)
    P = max(lengths)
    ids = torch.full((len(lengths), P), model.config.eos_token_id, dtype=torch.long)
    att = torch.zeros(len(lengths), P, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, P - n:] = torch.randint(10, 4000, (n,), generator=g)
        att[i, P - n:] = 1
    return ids, (None if len(set(lengths)) == 1 else att)


def _sequence(model, lengths=(9, 5), gen=16, seed=3):
    """[prompt; some committed tokens; masks] and its attention mask [B, L]: a mid-generation state."""
    ids, att = _prompts(model, list(lengths), seed)
    x = torch.cat([ids, torch.full((len(lengths), gen), model.config.mask_token_id)], 1)
    x[:, ids.shape[1]:ids.shape[1] + 5] = torch.randint(10, 4000, (len(lengths), 5), generator=torch.Generator().manual_seed(1))
    return x, torch.cat([att, torch.ones(len(lengths), gen, dtype=torch.long)], 1)


@pytest.mark.parametrize("name", ["llada", "dream"])
@pytest.mark.parametrize("start,end", [(9, 17), (13, 21), (0, 4), (17, 25)])
def test_slice_forward_over_a_fresh_cache_equals_the_full_forward(models, name, start, end):
    model = models[name]
    x, att = _sequence(model)
    with torch.no_grad():
        full = model(x, attention_mask=att, use_cache=True)
        cache = output_cache(full)
        kept = [k.clone() for k, _ in cache]
        part = model(x[:, start:end], attention_mask=att, past_key_values=cache, replace_start=start, use_cache=True)
    torch.testing.assert_close(part.logits, full.logits[:, start:end], atol=1e-5, rtol=1e-5)
    # the slice's keys land where the full forward put them; the caller's cache is not written over
    torch.testing.assert_close(output_cache(part)[0][0], cache[0][0], atol=1e-5, rtol=1e-5)
    assert all(torch.equal(k, c[0]) for k, c in zip(kept, cache))


@pytest.mark.parametrize("name", ["llada", "dream"])
def test_slice_forward_reads_the_cache_of_the_other_positions(models, name):
    """The slice attends to the cached keys/values outside it: a cache made with other tokens there changes its logits
    (a slice that only attended to itself, or to a stale cache, would go unnoticed by a fresh-cache test alone)."""
    model = models[name]
    x, att = _sequence(model)
    other = x.clone()
    other[:, 21:] = 77  # the suffix only, outside the slice [13, 21)
    with torch.no_grad():
        fresh = output_cache(model(x, attention_mask=att, use_cache=True))
        stale = output_cache(model(other, attention_mask=att, use_cache=True))
        a = model(x[:, 13:21], attention_mask=att, past_key_values=fresh, replace_start=13).logits
        b = model(x[:, 13:21], attention_mask=att, past_key_values=stale, replace_start=13).logits
    assert (a - b).abs().max() > 1e-3


def test_slice_outside_the_cache_is_refused(models):
    model = models["llada"]
    x, att = _sequence(model)
    with torch.no_grad():
        cache = output_cache(model(x, attention_mask=att, use_cache=True))
        with pytest.raises(ValueError, match="inside the cache"):
            model(x[:, 20:], attention_mask=att, past_key_values=cache, replace_start=21)


@pytest.mark.parametrize("name", ["llada", "dream"])
def test_slice_forward_keeps_its_tensors_on_the_model_device(models, name):
    """`meta` stands in for a second device (tests/test_second_device.py): positions and rotary tables of the slice
    are made where the activations are, or mixing devices fails."""
    model = AutoModel.from_config(models[name].config).to("meta").eval()
    x = torch.zeros(2, 20, dtype=torch.long, device="meta")
    with torch.no_grad():
        cache = output_cache(model(x, use_cache=True))
        part = model(x[:, 8:16], past_key_values=cache, replace_start=8)
    assert part.logits.device.type == "meta" and part.logits.shape[:2] == (2, 8)


class Recorder(torch.nn.Module):
    """Wraps a model: records (input width, replace_start, whether a cache came in) of every forward."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config, self.calls = model, model.config, []

    def forward(self, input_ids, past_key_values=None, replace_start=None, **kw):
        self.calls.append((input_ids.shape[1], replace_start, past_key_values is not None))
        return self.model(input_ids, past_key_values=past_key_values, replace_start=replace_start, **kw)


@pytest.mark.parametrize("name", ["llada", "dream"])
@pytest.mark.parametrize("temperature,cfg_scale", [(0.0, 0.0), (0.7, 0.0), (0.0, 1.5)])
def test_dual_cache_refreshed_at_every_step_equals_the_uncached_sampler(models, name, temperature, cfg_scale):
    model = models[name]
    ids, att = _prompts(model, [7, 4], seed=5)
    setting = dict(steps=16, gen_length=16, block_length=8, temperature=temperature, cfg_scale=cfg_scale)

    def gens():
        return [torch.Generator().manual_seed(40 + b) for b in range(2)]

    plain = generate(model, ids, att, generator=gens(), **setting)
    dual = generate(model, ids, att, generator=gens(), dual_cache=True, refresh_every=1, **setting)
    assert torch.equal(dual.sequences, plain.sequences)
    assert torch.equal(dual.confidences, plain.confidences) and dual.nfe == plain.nfe
    # refreshed only at block starts it is another (approximate) sampler: on the random model its tokens differ
    fast = generate(model, ids, att, generator=gens(), dual_cache=True, **setting)
    assert not torch.equal(fast.sequences, plain.sequences)


@pytest.mark.parametrize("name", ["llada", "dream"])
def test_one_step_per_block_is_always_a_refresh(models, name):
    """Every step is its block's first: the dual cache equals the uncached sampler only if it refreshes at EVERY
    block's start (a cache kept from an earlier block would hold that block's masks)."""
    model = models[name]
    ids, att = _prompts(model, [6, 9], seed=6)
    setting = dict(steps=4, gen_length=16, block_length=4)
    plain = generate(model, ids, att, **setting)
    assert torch.equal(generate(model, ids, att, dual_cache=True, **setting).sequences, plain.sequences)


@pytest.mark.parametrize("name,shift", [("llada", 0), ("dream", 1)])
def test_block_start_refresh_runs_the_block_alone_in_between(models, name, shift):
    model = models[name]
    ids, att = _prompts(model, [7, 4], seed=8)
    P, L, setting = 7, 7 + 16, dict(steps=16, gen_length=16, block_length=8)
    spy = Recorder(model)
    out = generate(spy, ids, att, dual_cache=True, return_trajectory=True, **setting)
    block = [(8 + shift, lo - shift, True) for lo in (P, P + 8) for _ in range(7)]
    assert spy.calls == [(L, None, False)] + block[:7] + [(L, None, False)] + block[7:]
    assert out.nfe == 16 and out.row_nfe == [16, 16] and out.sequences.shape == (2, L)
    mask = model.config.mask_token_id
    assert not (out.sequences == mask).any()
    assert not any((p == mask).any() for p in out.trajectory_predictions)  # masks outside the window: last full pass
    # every forward counts one NFE, but the model sees far fewer query positions than uncached or prefix-cached
    spy_plain, spy_prefix = Recorder(model), Recorder(model)
    generate(spy_plain, ids, att, **setting)
    generate(spy_prefix, ids, att, use_cache=True, **setting)
    work = [sum(width for width, _, _ in s.calls) for s in (spy, spy_prefix, spy_plain)]
    assert work[0] < work[1] < work[2]


def test_refresh_every_n_steps_and_threshold_mode(models):
    model = models["llada"]
    ids, att = _prompts(model, [7, 4], seed=9)
    spy = Recorder(model)
    out = generate(spy, ids, att, steps=16, gen_length=16, block_length=8, dual_cache=True, refresh_every=3)
    full = [i for i, (_, start, _) in enumerate(spy.calls) if start is None]
    assert full == [0, 3, 6, 8, 11, 14] and out.nfe == 16
    spy.calls.clear()
    fast = generate(spy, ids, att, steps=16, gen_length=16, block_length=8, dual_cache=True, threshold=0.0)
    assert fast.nfe == 2 and [c[1] for c in spy.calls] == [None, None]  # one (refreshing) step per block
    assert not (fast.sequences == model.config.mask_token_id).any()


def test_cache_options_that_cannot_run_together_are_refused(models):
    model = models["llada"]
    ids, _ = _prompts(model, [5])
    kw = dict(steps=4, gen_length=4, block_length=4)
    with pytest.raises(ValueError, match="pick one"):
        generate(model, ids, use_cache=True, dual_cache=True, **kw)
    with pytest.raises(ValueError, match="refresh_every"):
        generate(model, ids, refresh_every=2, **kw)
    with pytest.raises(ValueError, match="refresh_every"):
        generate(model, ids, dual_cache=True, refresh_every=0, **kw)
    with pytest.raises(ValueError, match="dual cache would keep stale"):
        generate(model, ids, dual_cache=True, revise=lambda x, c, a: (x == -1, torch.zeros(1)), **kw)
