import pytest
import torch

from inference.remask import lines_to_positions, lowest_confidence, random_k, select_in_region


def test_global_lowest_confidence_over_generated_positions():
    conf = torch.tensor([[0.0, 0.0, 0.9, 0.1, 0.5, 0.2], [0.0, 0.0, 0.3, 0.2, 0.1, 0.9]])
    generated = torch.zeros_like(conf, dtype=torch.bool)
    generated[:, 2:] = True  # the zero-confidence prompt columns must not be picked
    sel = lowest_confidence(conf, 2, generated)
    assert sel.tolist() == [[False, False, False, True, False, True], [False, False, False, True, True, False]]


def test_region_with_at_most_k_tokens_is_taken_whole():
    conf = torch.rand(2, 10, generator=torch.Generator().manual_seed(0))
    region = torch.zeros(2, 10, dtype=torch.bool)
    region[0, 2:5] = True
    region[1, 7] = True
    assert torch.equal(select_in_region(conf, region, 4), region)
    assert torch.equal(select_in_region(conf, region, 4, mode="random", generator=torch.Generator()), region)


def test_lowest_confidence_inside_region_and_per_row_k():
    conf = torch.tensor([[0.1, 0.9, 0.2, 0.8, 0.3, 0.05]])
    region = torch.tensor([[False, True, True, True, True, False]])
    assert select_in_region(conf, region, 2).nonzero()[:, 1].tolist() == [2, 4]
    two_rows = lowest_confidence(conf.repeat(2, 1), torch.tensor([1, 3]), region.repeat(2, 1))
    assert two_rows.sum(1).tolist() == [1, 3] and two_rows[0, 2]


def test_random_k_stays_inside_region_and_follows_the_generator():
    region = torch.zeros(3, 50, dtype=torch.bool)
    region[:, 10:40] = True
    a = random_k(region, 8, torch.Generator().manual_seed(1))
    b = random_k(region, 8, torch.Generator().manual_seed(1))
    c = random_k(region, 8, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a.sum(1) == 8).all() and not (a & ~region).any()


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown selection mode"):
        select_in_region(torch.rand(1, 4), torch.ones(1, 4, dtype=torch.bool), 2, mode="nearest")


def test_lines_to_positions_uses_offsets(tiny_tokenizer):
    text = "def f(x):\n    y = x + 1\n    return y\n"
    enc = tiny_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    start = 5
    mask = lines_to_positions(offsets, text, {2}, length=start + len(offsets) + 3, start=start)
    picked = [int(i) - start for i in mask.nonzero()]
    assert picked and mask[:start].sum() == 0
    covered = "".join(text[offsets[j][0]: offsets[j][1]] for j in picked)
    assert "y = x + 1" in covered and "return" not in covered and "def" not in covered
