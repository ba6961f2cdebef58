"""The sampler's revision hook (CORE during generation): called on the intermediate states, re-masked tokens are
denoised again within the same step budget, never after the last step, and a hook that re-masks nothing changes
nothing."""

import pytest
import torch

from inference.sampler import generate


def _prompt(model, n=6, rows=1):
    g = torch.Generator().manual_seed(1)
    return torch.randint(10, 4000, (rows, n), generator=g), None


class Hook:
    """Re-masks the first committed generated token of row 0 at its `at`-th call (`picked`); records every state."""

    def __init__(self, gen_length, mask_id, at=None, passes=1):
        self.G, self.mask_id, self.at, self.passes = gen_length, mask_id, at, passes
        self.states, self.picked = [], None

    def __call__(self, x, conf, att):
        self.states.append(x.clone())
        positions = torch.zeros_like(x, dtype=torch.bool)
        used = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        if len(self.states) == self.at:
            lo = x.shape[1] - self.G
            self.picked = lo + int((x[0, lo:] != self.mask_id).nonzero()[0])
            positions[0, self.picked] = True
            used[0] = self.passes
        return positions, used


SETTING = dict(steps=8, gen_length=16, block_length=4)  # 4 blocks of 2 steps: 2 commits per step


def test_a_hook_that_remasks_nothing_changes_nothing(tiny_model):
    ids, att = _prompt(tiny_model)
    plain = generate(tiny_model, ids, att, **SETTING)
    hook = Hook(SETTING["gen_length"], tiny_model.config.mask_token_id)
    out = generate(tiny_model, ids, att, revise=hook, **SETTING)
    assert torch.equal(out.sequences, plain.sequences) and torch.equal(out.confidences, plain.confidences)
    assert out.nfe == plain.nfe == SETTING["steps"]
    # called after every step but the last one of the last block, on the intermediate states
    assert len(hook.states) == SETTING["steps"] - 1
    masks = [
        int((s[0, -SETTING["gen_length"] :] == tiny_model.config.mask_token_id).sum()) for s in hook.states
    ]
    assert masks == [14, 12, 10, 8, 6, 4, 2]


@pytest.mark.parametrize(
    "at", [1, 2]
)  # mid-block (rescheduled in the block) / block end (taken by the next block)
def test_remasked_token_is_denoised_again_within_the_same_steps(tiny_model, monkeypatch, at):
    ids, att = _prompt(tiny_model)
    mask_id = tiny_model.config.mask_token_id
    plain = generate(tiny_model, ids, att, **SETTING)
    seen, forward = [], tiny_model.forward

    def spy(*args, **kw):
        seen.append(kw["input_ids"].clone())
        return forward(*args, **kw)

    monkeypatch.setattr(tiny_model, "forward", spy)
    hook = Hook(SETTING["gen_length"], mask_id, at=at, passes=3)
    out = generate(tiny_model, ids, att, revise=hook, **SETTING)
    i, P = hook.picked, ids.shape[1]
    assert not (out.sequences == mask_id).any()
    assert out.nfe == SETTING["steps"] + 3 and out.row_nfe == [
        SETTING["steps"] + 3
    ]  # the hook's passes counted
    assert (
        len(seen) == SETTING["steps"]
    )  # no extra denoising step: the re-masked token fits the same schedule
    # committed when the hook picked it, [MASK] in the next step's input, committed again by the end
    assert hook.states[at - 1][0, i] != mask_id and seen[at][0, i] == mask_id
    assert out.confidences[0, i - P] > 0 and out.confidences[0, i - P] != plain.confidences[0, i - P]
    if (
        at == 1
    ):  # mid-block: the rescheduled last step of the block commits all it holds, the re-masked token too
        assert (hook.states[1][0, P : P + SETTING["block_length"]] != mask_id).all()


def test_remasking_is_ignored_outside_the_generated_committed_tokens(tiny_model):
    ids, att = _prompt(tiny_model)
    plain = generate(tiny_model, ids, att, **SETTING)

    def prompt_hook(x, conf, att):
        positions = torch.zeros_like(x, dtype=torch.bool)
        positions[:, 0] = True  # a prompt token: never re-masked
        return positions, torch.zeros(x.shape[0], dtype=torch.long)

    out = generate(tiny_model, ids, att, revise=prompt_hook, **SETTING)
    assert torch.equal(out.sequences, plain.sequences)


def test_revision_refuses_the_prefix_cache(tiny_model):
    ids, att = _prompt(tiny_model)
    with pytest.raises(ValueError, match="prefix cache"):
        generate(tiny_model, ids, att, use_cache=True, revise=Hook(SETTING["gen_length"], 0), **SETTING)
