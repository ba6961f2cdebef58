import math

import torch

from train.loss import llada_loss, loss_parts, masked_cross_entropy, token_loss


def _setup():
    # B=2, L=3, V=2: logits chosen so each CE is a known log-sum-exp
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]],
                           [[1.0, 0.0], [0.0, 0.0], [0.0, 3.0]]])
    targets = torch.tensor([[0, 0, 1], [1, 1, 1]])
    is_masked = torch.tensor([[True, True, False], [True, False, True]])
    maskable = torch.tensor([[True, True, True], [False, True, True]])
    p_mask = torch.tensor([[0.5, 0.5, 0.5], [0.25, 0.25, 0.25]])
    return logits, targets, is_masked, maskable, p_mask


def ce(logit_row, target):
    return math.log(sum(math.exp(v) for v in logit_row)) - logit_row[target]


def test_masked_cross_entropy_is_zero_outside_masks():
    logits, targets, is_masked, _, _ = _setup()
    out = masked_cross_entropy(logits, targets, is_masked)
    assert out[0, 2] == 0 and out[1, 1] == 0
    assert math.isclose(out[0, 1].item(), ce([2.0, 0.0], 0), rel_tol=1e-6)


def test_llada_and_token_normalisation_by_hand():
    logits, targets, is_masked, maskable, p_mask = _setup()
    parts = loss_parts(logits, targets, is_masked, p_mask, maskable)
    row0 = (ce([0, 0], 0) + ce([2, 0], 0)) / 0.5
    row1 = (ce([1, 0], 1) + ce([0, 3], 1)) / 0.25
    # LLaDA: (1/B) sum_i row_i / answer_len_i with answer lengths 3 and 2
    assert math.isclose(llada_loss(parts).item(), (row0 / 3 + row1 / 2) / 2, rel_tol=1e-6)
    # token: sum over all / maskable tokens of the global batch (10 here), times micro-batches per step (4)
    assert math.isclose(token_loss(parts, global_tokens=10.0, micro_batches_per_step=4).item(),
                        (row0 + row1) * 4 / 10, rel_tol=1e-6)
    assert parts.num_masked.item() == 4
