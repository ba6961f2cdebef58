"""Fast rollouts (threshold, prefix cache) change how completions are sampled, not what is stored or scored."""

import pytest
import torch

from inference.adapters import get_adapter
from rl.estimators import EstimatorConfig, draw_masks, masked_inputs
from rl.grpo import Config, mask_generator
from rl.rollout import RolloutConfig, completion_mask, encode_prompts, generate_rollouts

PROMPTS = ["def add(a, b):\n", "def is_even(n):\n    return"]


def _rollouts(model, tokenizer, fast: RolloutConfig | None):
    return generate_rollouts(model, tokenizer, get_adapter(model.config), PROMPTS, 4, 32, 32, {"block_length": 32},
                             1.0, False, 0, 4, fast=fast)


def test_fast_rollouts_store_the_same_masks_and_estimator_inputs(tiny_model, tiny_tokenizer):
    head = tiny_model.get_output_embeddings().weight
    with torch.no_grad():
        head.mul_(500.0)  # sharper, trained-like confidences, so the threshold fires (random ones stay ~1/V)
    plain = _rollouts(tiny_model, tiny_tokenizer, None)
    fast = _rollouts(tiny_model, tiny_tokenizer, RolloutConfig(threshold=0.9, use_cache=True))
    assert fast.nfe < plain.nfe  # the fast modes really ran (fewer forwards), so the sampler used fewer draws

    # Stored tensors are the same function of the completions as in plain rollouts.
    prompt_ids, prompt_att = encode_prompts(tiny_tokenizer, [p for p in PROMPTS for _ in range(4)], False)
    for r in (plain, fast):
        assert torch.equal(r.prompt_ids, prompt_ids)
        assert torch.equal(r.attention_mask, torch.cat([prompt_att, torch.ones_like(r.completion_ids)], -1))
        stops = get_adapter(tiny_model.config).stop_ids(tiny_tokenizer)
        assert torch.equal(r.completion_mask, completion_mask(r.completion_ids, stops))

    # The masks come from their own stream: equal completion masks get equal masks, whatever the sampler consumed.
    cfg = Config(estimator=EstimatorConfig(name="coupled", passes=3))
    same = (plain.completion_mask == fast.completion_mask).all(-1)  # [N]
    assert same.any()
    draws = [draw_masks(cfg.estimator, r.completion_mask, r.prompt_ids.shape[1], mask_generator(cfg, 7))
             for r in (plain, fast)]
    assert torch.equal(draws[0].completion_masks[:, same], draws[1].completion_masks[:, same])
    assert torch.equal(draws[0].pass_weights, draws[1].pass_weights)

    # Estimator inputs: identical where a pass masks a token; elsewhere each rollout's own completion tokens.
    mask_id = tiny_model.config.mask_token_id
    inputs = [masked_inputs(r.prompt_ids, r.completion_ids, d, mask_id) for r, d in zip((plain, fast), draws)]
    P = plain.prompt_ids.shape[1]
    masked = draws[0].completion_masks[:, same].reshape(-1, 32)  # [K * n_same, C]
    rows = [k * len(same) + i for k in range(3) for i in same.nonzero().flatten().tolist()]
    assert (inputs[0][rows, P:][masked] == mask_id).all() and (inputs[1][rows, P:][masked] == mask_id).all()
    assert torch.equal(inputs[1][rows, P:][~masked], fast.completion_ids.repeat(3, 1)[rows][~masked])
    assert torch.equal(inputs[0][:, :P], inputs[1][:, :P])


def test_mask_generator_is_per_step_and_independent_of_the_sampler():
    cfg = Config()
    a, b = mask_generator(cfg, 3), mask_generator(cfg, 3)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))
    assert not torch.equal(torch.rand(5, generator=mask_generator(cfg, 3)), torch.rand(5, generator=mask_generator(cfg, 4)))


@pytest.mark.parametrize("sampler,options", [("llada", {"block_length": 16}), ("dream", {"alg": "entropy"})])
def test_rollouts_are_one_sampler_batch_and_do_not_depend_on_rollout_batch_size(sampler, options, tiny_model_dir,
                                                                                 tiny_dream_dir, tiny_tokenizer):
    """All of a call's rollouts go through the sampler together: `steps` forwards, not steps x chunks. Each row has
    its own generator, so capping the batch (rollout_batch_size) changes no completion for the same seed."""
    from transformers import AutoModel, AutoTokenizer

    model_dir = tiny_model_dir if sampler == "llada" else tiny_dream_dir
    model = AutoModel.from_pretrained(model_dir).eval()
    tok = tiny_tokenizer if sampler == "llada" else AutoTokenizer.from_pretrained(tiny_dream_dir)
    forwards = []
    model.register_forward_hook(lambda m, args, kw, out: forwards.append(kw["input_ids"].shape[0]), with_kwargs=True)
    runs = {}
    for batch_size in (None, 2):
        forwards.clear()
        runs[batch_size] = generate_rollouts(model, tok, get_adapter(model.config), PROMPTS, 4, 16, 8, options, 1.0,
                                             False, seed=5, batch_size=batch_size, sampler=sampler)
        runs[batch_size].forwards = list(forwards)
    one, capped = runs[None], runs[2]
    assert one.forwards == [8] * 8 and one.nfe == 8  # 8 steps over all 8 rollouts at once
    assert capped.forwards == [2] * 32 and capped.nfe == 32  # 4 batches of 2 rows
    assert torch.equal(one.completion_ids, capped.completion_ids) and one.completions == capped.completions
    other = generate_rollouts(model, tok, get_adapter(model.config), PROMPTS, 4, 16, 8, options, 1.0, False, seed=6,
                              sampler=sampler)
    assert not torch.equal(one.completion_ids, other.completion_ids)  # the seed does decide the draws
    assert len({tuple(c.tolist()) for c in one.completion_ids}) == 8  # every row has its own draws
