import math

import pytest
import torch

from corruption.ast_tiers import TIERS, tier_table, token_tiers
from corruption.maskers import MASKERS, complementary_masks
from corruption.schedules import SCHEDULES, curriculum_eps, sample_p_mask
from corruption.stats import tier_rates
from data.collate import collate
from data.examples import Example, code_regions, reasoning_regions
from data.local_corpus import build_local_corpus
from train.sft_data import example_row

EXACT = ["uniform-exact", "ast", "ast-span"]


def _rows(tokenizer, examples):
    table = tier_table()
    rows = [example_row(tokenizer, ex, 512, table)[0] for ex in examples]
    return [r for r in rows if r is not None]


@pytest.fixture(scope="module")
def large_batch(tiny_tokenizer):
    rows = _rows(tiny_tokenizer, build_local_corpus(max_examples=512, max_chars=1500))
    return rows, collate(rows, tiny_tokenizer.pad_token_id)


@pytest.fixture(scope="module")
def corpus_batch(tiny_tokenizer):
    rows = _rows(tiny_tokenizer, build_local_corpus(max_examples=64, max_chars=1200))
    return rows, collate(rows, tiny_tokenizer.pad_token_id)


def test_schedule_values_by_hand():
    assert curriculum_eps(0, 101) == pytest.approx(0.1)
    assert curriculum_eps(100, 101) == pytest.approx(0.001)
    assert curriculum_eps(50, 101) == pytest.approx(0.001 + 0.5 * 0.099)
    g = torch.Generator().manual_seed(0)
    t = torch.rand(4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sample_p_mask("linear", 4, 0, 10, generator=g), (1 - 1e-3) * t + 1e-3)
    for name in SCHEDULES:
        p = sample_p_mask(name, 1000, 3, 10, generator=torch.Generator().manual_seed(1))
        assert p.min() > 0 and p.max() <= 1


@pytest.mark.parametrize("masker", EXACT)
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_exactly_n_masked_and_prompt_never(corpus_batch, masker, schedule):
    _, b = corpus_batch
    g = torch.Generator().manual_seed(0)
    p = sample_p_mask(schedule, b["input_ids"].shape[0], 5, 10, generator=g)
    mb = MASKERS[masker](b["input_ids"], b["maskable"], p, 2, generator=g, weights=b["weights"],
                         span_ids=b["span_ids"], regions=None if masker == "uniform-exact" else b["regions"])
    scope = b["maskable"] if masker == "uniform-exact" else b["maskable"] & (b["regions"] == 3)
    n = torch.floor(p * scope.sum(1)).long()
    assert torch.equal((mb.is_masked & scope).sum(1), n)
    assert not (mb.is_masked & ~b["maskable"]).any()  # prompt (and nothing unmaskable) is ever masked
    assert torch.equal(mb.noisy_ids[mb.is_masked], torch.full_like(mb.noisy_ids[mb.is_masked], 2))
    assert torch.equal(mb.noisy_ids[~mb.is_masked], b["input_ids"][~mb.is_masked])


def _tier_rates(masker, rows, b, draws=10):
    tiers = torch.full(b["input_ids"].shape, -1)
    for i, r in enumerate(rows):
        tiers[i, : len(r["tier_ids"])] = torch.tensor(r["tier_ids"])
    g = torch.Generator().manual_seed(0)
    masks = []
    for _ in range(draws):
        p = sample_p_mask("linear", b["input_ids"].shape[0], 0, 10, generator=g)
        masks.append(MASKERS[masker](b["input_ids"], b["maskable"], p, 2, generator=g, weights=b["weights"],
                                     span_ids=b["span_ids"], regions=b["regions"]).is_masked)
    return tier_rates(torch.stack(masks), tiers.expand(draws, *tiers.shape), [4, 3, 2, 1])


def test_tier_ordering_on_real_code_and_flat_for_uniform(large_batch):
    rows, b = large_batch
    ast = _tier_rates("ast", rows, b)
    assert ast["control"] > ast["conditional"] > ast["data"] > ast["skeleton"], ast
    uni = _tier_rates("uniform", rows, b)
    assert max(uni.values()) - min(uni.values()) < 0.03, uni


def test_span_masker_masks_whole_spans(corpus_batch):
    _, b = corpus_batch
    g = torch.Generator().manual_seed(3)
    p = torch.full((b["input_ids"].shape[0],), 0.5)
    w = torch.where(b["weights"] > 0, torch.ones_like(b["weights"]), b["weights"])  # every span accepted
    mb = MASKERS["ast-span"](b["input_ids"], b["maskable"], p, 2, generator=g, weights=w, span_ids=b["span_ids"],
                             regions=b["regions"])
    whole = partial = 0
    for row in range(b["input_ids"].shape[0]):
        for sid in b["span_ids"][row].unique().tolist():
            if sid < 0:
                continue
            m = mb.is_masked[row][b["span_ids"][row] == sid]
            whole += bool(m.all())
            partial += bool(m.any() and not m.all())
    assert whole > 0 and partial <= b["input_ids"].shape[0]  # at most the last, fallback-filled span per row


def test_complement_pairs_cover_every_maskable_token_once():
    maskable = torch.rand(8, 50) < 0.7
    m1, m2 = complementary_masks(maskable, torch.rand(8), torch.Generator().manual_seed(0))
    assert torch.equal(m1 | m2, maskable) and not (m1 & m2).any()


def test_non_ascii_code_aligns(tiny_tokenizer):
    code = 's = "héllo wörld"\nfor c in s:\n    pass\n'
    enc = tiny_tokenizer(code, return_offsets_mapping=True, add_special_tokens=False)
    tt = token_tiers(code, enc["offset_mapping"], tier_table())
    by_text = {}
    for (a, b), t in zip(enc["offset_mapping"], tt.tier_ids):
        by_text.setdefault(code[a:b].strip(), TIERS[t])
    assert by_text["for"] == "control" and by_text["ö"] == "skeleton" and tt.parsed_ok


def test_unparsable_code_still_gets_n_masks(tiny_tokenizer):
    completion = "    if x >\n        return (\n"
    ex = Example("def f(x):\n", completion, code_regions(completion))
    (row,) = _rows(tiny_tokenizer, [ex])
    assert set(row["weights"][row["prompt_len"] : -1]) == {1.0}  # uniform fallback weights
    b = collate([row], tiny_tokenizer.pad_token_id)
    mb = MASKERS["ast"](b["input_ids"], b["maskable"], torch.tensor([0.5]), 2, weights=b["weights"],
                        regions=b["regions"])
    code = b["maskable"] & (b["regions"] == 3)
    assert (mb.is_masked & code).sum() == math.floor(0.5 * code.sum())


def test_reasoning_region_is_masked_uniformly_and_code_by_ast(tiny_tokenizer):
    completion = "<think>" + "plan " * 20 + "</think>\n```python\nx = 1\nfor i in range(3):\n    x += i\n```\n"
    (row,) = _rows(tiny_tokenizer, [Example("Q", completion, reasoning_regions(completion))])
    b = collate([row], tiny_tokenizer.pad_token_id)
    mb = MASKERS["ast"](b["input_ids"], b["maskable"], torch.tensor([0.4]), 2, weights=b["weights"],
                        regions=b["regions"])
    code = b["regions"] == 3
    assert torch.allclose(mb.p_mask[b["regions"] == 2], torch.tensor(0.4))
    assert torch.allclose(mb.p_mask[code], torch.tensor(math.floor(0.4 * code.sum()) / code.sum().item()))
