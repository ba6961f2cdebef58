import math

import pytest
import torch

from rl.advantages import ADVANTAGES, frac_zero_std, leave_one_out
from rl.estimators import draw_coupled, draw_d1, draw_independent, estimate_logps
from rl.loss import grpo_loss

MASK = 0
V = 4
MASKED_LOGITS = torch.tensor([0.0, 1.0, 2.0, 3.0])
VISIBLE_LOGITS = torch.tensor([1.0, 0.0, 0.0, 0.0])


def toy_logits(ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked positions score with MASKED_LOGITS, visible ones with VISIBLE_LOGITS: log-probs known by hand."""
    masked = (ids == MASK)[..., None].float()
    return masked * MASKED_LOGITS + (1 - masked) * VISIBLE_LOGITS


LOGP_MASKED = torch.log_softmax(MASKED_LOGITS, -1)


def _batch():
    prompt = torch.tensor([[5, 6], [7, 8]])
    completion = torch.tensor([[1, 2, 3], [3, 1, 2]])
    completion_mask = torch.tensor([[True, True, True], [True, True, False]])
    return prompt, completion, completion_mask, torch.ones(2, 5, dtype=torch.long)


def test_complementary_masks_partition_the_completion():
    completion_mask = torch.rand(16, 40) < 0.8
    draw = draw_coupled(completion_mask, torch.Generator().manual_seed(0), passes=2)
    m1, m2 = draw.completion_masks
    assert torch.equal(m1 | m2, completion_mask) and not (m1 & m2).any()


@pytest.mark.parametrize("passes,weighted", [(2, True), (2, False), (3, True)])
def test_coupled_estimate_by_hand(passes, weighted):
    prompt, completion, cmask, att = _batch()
    draw = draw_coupled(cmask, torch.Generator().manual_seed(1), passes=passes, weighted=weighted)
    s = estimate_logps(toy_logits, prompt, completion, att, draw, MASK)
    t = 1.0 / draw.pass_weights[-2] if weighted else None
    for n in range(2):
        for i in range(3):
            if not cmask[n, i]:
                assert s[n, i] == 0
                continue
            lp = LOGP_MASKED[completion[n, i]].item()  # the scored pass always has token i masked
            in_first = bool(draw.completion_masks[-2, n, i])
            w = (1 / t[n].item() if in_first else 1 / (1 - t[n].item())) if weighted else 1.0
            expected = w * lp if passes == 2 else 0.5 * (lp + w * lp)
            assert math.isclose(s[n, i].item(), expected, rel_tol=1e-5)


def test_d1_and_independent_by_hand():
    prompt, completion, cmask, att = _batch()
    s = estimate_logps(toy_logits, prompt, completion, att, draw_d1(cmask, 2, torch.Generator().manual_seed(0)), MASK)
    assert math.isclose(s[0, 2].item(), LOGP_MASKED[3].item(), rel_tol=1e-6) and s[1, 2] == 0
    draw = draw_independent(cmask, torch.Generator().manual_seed(0), passes=2)
    s = estimate_logps(toy_logits, prompt, completion, att, draw, MASK)
    n, i = 0, 1
    expected = sum(draw.completion_masks[k, n, i].item() * draw.pass_weights[k, n].item() for k in range(2)) / 2
    assert math.isclose(s[n, i].item(), expected * LOGP_MASKED[2].item(), rel_tol=1e-5)


def test_d1_at_k_passes_is_the_mean_of_k_one_pass_estimates():
    """d1 at another estimator's forward-pass budget (issue 31 item 3): K one-pass d1 estimates, each with its own
    prompt mask, averaged. A logits function that reads the prompt makes the prompt masks matter."""
    from rl.estimators import EstimatorConfig, MaskDraw, draw_masks

    prompt, completion, cmask, att = _batch()

    def reads_prompt(ids, attention_mask):  # masked prompt tokens shift every completion row's logits
        return toy_logits(ids, attention_mask) + (ids[:, :2] == MASK).sum(-1)[:, None, None] * torch.tensor(
            [0.0, 0.5, 0.0, 0.0])

    draw = draw_masks(EstimatorConfig(name="d1", passes=2, p_mask_prompt=0.5), cmask, 2, torch.Generator().manual_seed(4))
    assert draw.prompt_masks.shape == (2, 2, 2) and draw.constant == 0.5
    assert not torch.equal(draw.prompt_masks[0], draw.prompt_masks[1])
    one = [MaskDraw(draw.completion_masks[k : k + 1], draw.prompt_masks[k : k + 1], draw.pass_weights[k : k + 1], 1.0)
           for k in range(2)]
    singles = [estimate_logps(reads_prompt, prompt, completion, att, d, MASK) for d in one]
    torch.testing.assert_close(estimate_logps(reads_prompt, prompt, completion, att, draw, MASK),
                               (singles[0] + singles[1]) / 2)
    assert draw_masks(EstimatorConfig(name="d1"), cmask, 2).completion_masks.shape[0] == 1  # d1's own default
    assert draw_masks(EstimatorConfig(name="coupled"), cmask, 2).completion_masks.shape[0] == 3
    with pytest.raises(ValueError, match="passes"):
        draw_masks(EstimatorConfig(name="independent", passes=0), cmask, 2)


def test_same_draw_same_estimate():
    prompt, completion, cmask, att = _batch()
    draw = draw_coupled(cmask, torch.Generator().manual_seed(3))
    a = estimate_logps(toy_logits, prompt, completion, att, draw, MASK)
    b = estimate_logps(toy_logits, prompt, completion, att, draw.index(slice(None)), MASK)
    assert torch.equal(a, b)


def test_leave_one_out_by_hand_and_zero_for_equal_groups():
    r = torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0, 2.0])
    assert torch.allclose(leave_one_out(r, 3), torch.tensor([1.0, -0.5, -0.5, 0.0, 0.0, 0.0]))
    for fn in ADVANTAGES.values():
        assert torch.all(fn(torch.full((6,), 0.7), 3).abs() < 1e-6)
    assert frac_zero_std(r, 3) == 0.5


def test_loss_and_grads_zero_when_all_rewards_equal():
    logps = torch.randn(4, 5, requires_grad=True)
    adv = ADVANTAGES["group"](torch.ones(4), 2)
    out = grpo_loss(logps, logps.detach(), logps.detach(), adv, torch.ones(4, 5, dtype=torch.bool), 0.5, 0.5, 0.01)
    out.loss.backward()
    assert out.loss.item() == 0 and torch.all(logps.grad == 0)


def test_rho_is_one_at_first_iteration():
    logps = torch.randn(2, 3, requires_grad=True)
    adv = torch.tensor([1.0, -2.0])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = grpo_loss(logps, logps.detach(), None, adv, mask, 0.2, 0.2, 0.0)
    assert out.clip_region.item() == 0
    assert math.isclose(out.loss.item(), -(2 * 1.0 + 3 * -2.0) / 5, rel_tol=1e-6)
    out.loss.backward()  # d/ds of -rho*A at rho=1 is -A per token / n_tokens
    assert torch.allclose(logps.grad, -adv[:, None] * mask / 5)


def test_clipping_metrics():
    old = torch.zeros(1, 4)
    logps = torch.log(torch.tensor([[0.1, 0.9, 1.1, 3.0]]))
    pos = grpo_loss(logps, old, None, torch.tensor([1.0]), torch.ones(1, 4, dtype=torch.bool), 0.2, 0.2, 0.0)
    neg = grpo_loss(logps, old, None, torch.tensor([-1.0]), torch.ones(1, 4, dtype=torch.bool), 0.2, 0.2, 0.0)
    assert pos.clip_high.item() == 0.25 and pos.clip_low.item() == 0
    assert neg.clip_low.item() == 0.25 and neg.clip_region.item() == 0.25


def _rollout_with_eos_run():
    from rl.rollout import Rollout, completion_mask

    EOS = 3  # inside the toy vocabulary
    completion = torch.tensor([[1, 2, EOS, EOS, EOS], [2, 1, 2, 1, EOS], [1, EOS, EOS, EOS, EOS]])
    cmask = completion_mask(completion, (EOS,))
    prompt = torch.tensor([[5, 6], [7, 8], [5, 8]])
    return Rollout(["p"] * 3, ["c"] * 3, prompt, completion, torch.ones(3, 7, dtype=torch.long), cmask)


@pytest.mark.parametrize("name,passes", [("coupled", 3), ("coupled", 2), ("d1", 1), ("independent", 2)])
def test_noise_covers_every_completion_position_and_loss_stops_at_first_eos(name, passes):
    """DiffuCoder's trainer masks every non-prompt position, the EOS run included: in the fully masked pass no
    completion token is visible (otherwise the visible EOS run tells the model the completion's length)."""
    from rl.estimators import EstimatorConfig, masked_inputs
    from rl.rollout import draw_rollout_masks

    r = _rollout_with_eos_run()
    cfg = EstimatorConfig(name=name, passes=passes, t_min=0.2, t_max=0.8)
    draw = draw_rollout_masks(cfg, r, torch.Generator().manual_seed(0))
    ids = masked_inputs(r.prompt_ids, r.completion_ids, draw, MASK).view(draw.completion_masks.shape[0], 3, -1)
    if name == "coupled":
        m1, m2 = draw.completion_masks[-2:]
        assert torch.equal(m1 | m2, torch.ones_like(m1)) and not (m1 & m2).any()  # complements over ALL positions
        if passes == 3:
            assert (ids[0, :, 2:] == MASK).all()  # the fully masked pass: nothing of the completion visible
    if name == "d1":
        assert (ids[0, :, 2:] == MASK).all()
    # post-EOS positions are scored but the loss averages over TRL's mask only: changing them changes nothing
    s = estimate_logps(toy_logits, r.prompt_ids, r.completion_ids, r.attention_mask, draw, MASK)
    noisy = s.masked_fill(~r.completion_mask, 123.0)
    adv = torch.tensor([1.0, -1.0, 0.5])
    for a, b in zip(vars(grpo_loss(s, s.detach(), None, adv, r.completion_mask, 0.2, 0.2, 0.0)).values(),
                    vars(grpo_loss(noisy, s.detach(), None, adv, r.completion_mask, 0.2, 0.2, 0.0)).values()):
        assert torch.equal(a, b)
