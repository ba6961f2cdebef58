import math

import pytest
import torch

from corruption.ast_tiers import TIER_IDS
from corruption.maskers import MASKERS, complementary_masks, pad_spans, span_phase
from corruption.schedules import SCHEDULES, sample_p_mask
from corruption.stats import tier_rates
from data.examples import Example, code_regions, reasoning_regions

EXACT = ["uniform-exact", "ast", "ast-span"]
MASK_ID = 2
ORDER = [TIER_IDS[t] for t in ("control", "conditional", "data", "skeleton")]


def _run(masker, b, p, g, regions=True, spans=True):
    return MASKERS[masker](b["input_ids"], b["maskable"], p, MASK_ID, generator=g, weights=b["weights"],
                           span_ids=b["span_ids"], regions=b["regions"] if regions else None,
                           spans=b["spans"] if spans else None)


@pytest.mark.parametrize("masker", EXACT)
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_exactly_n_masked_and_prompt_never(corpus_batch, masker, schedule):
    b = corpus_batch
    g = torch.Generator().manual_seed(0)
    p = sample_p_mask(schedule, b["input_ids"].shape[0], 5, 10, generator=g)
    region_aware = masker != "uniform-exact"
    mb = _run(masker, b, p, g)
    scope = b["maskable"] & (b["regions"] == 3) if region_aware else b["maskable"]
    n = torch.floor(p * scope.sum(1)).long()
    assert torch.equal((mb.is_masked & scope).sum(1), n)
    assert not (mb.is_masked & ~b["maskable"]).any()  # the prompt (and nothing unmaskable) is ever masked
    assert (mb.noisy_ids[mb.is_masked] == MASK_ID).all()
    assert torch.equal(mb.noisy_ids[~mb.is_masked], b["input_ids"][~mb.is_masked])
    assert torch.allclose(mb.p_mask[scope], (n / scope.sum(1)).float()[:, None].expand_as(scope)[scope])


def test_uniform_is_iid_and_reports_p_mask(corpus_batch):
    b = corpus_batch
    p = torch.linspace(0.05, 0.95, b["input_ids"].shape[0])
    mb = _run("uniform", b, p, torch.Generator().manual_seed(0))
    assert not (mb.is_masked & ~b["maskable"]).any()
    assert torch.equal(mb.p_mask, p[:, None].expand_as(mb.p_mask))
    rate = mb.is_masked.sum() / (b["maskable"].sum(1) * p).sum()
    assert 0.95 < rate < 1.05


def test_tier_ordering_on_real_code_and_flat_for_uniform(tiny_tokenizer, corpus_rows, prep):
    b = prep[1](corpus_rows, tiny_tokenizer.pad_token_id)
    rates = {}
    for masker in ("ast", "uniform"):
        g, masks = torch.Generator().manual_seed(0), []
        for _ in range(6):
            masks.append(_run(masker, b, sample_p_mask("linear", len(corpus_rows), 0, 1, generator=g), g).is_masked)
        rates[masker] = tier_rates(torch.stack(masks), b["tier_ids"].expand(len(masks), -1, -1), ORDER)
    ast, uni = rates["ast"], rates["uniform"]
    assert ast["control"] > ast["conditional"] > ast["data"] > ast["skeleton"], ast
    assert max(uni.values()) - min(uni.values()) < 0.03, uni


def test_span_phase_masks_whole_spans(corpus_batch):
    b = corpus_batch
    code = b["maskable"] & (b["regions"] == 3)
    spans = b["spans"].clone()
    spans[..., 2] = (spans[..., 1] > spans[..., 0]).float()  # accept every span that fits
    n = torch.floor(0.6 * code.sum(1)).long()
    phase1 = span_phase(code, spans, n, torch.Generator().manual_seed(3))
    assert (phase1.sum(1) <= n).all() and not (phase1 & ~code).any()
    for row in range(code.shape[0]):  # every masked token lies in a span masked whole (on its code tokens)
        covered = torch.zeros_like(phase1[row])
        for s, e, w in spans[row].long().tolist():
            if w and phase1[row, s:e][code[row, s:e]].all():
                covered[s:e] |= code[row, s:e]
        assert torch.equal(covered & phase1[row], phase1[row])
    assert phase1.sum() > 0.9 * n.sum()  # nearly all the budget comes from whole spans (not for unparsed rows)


def test_span_masker_hand_made():
    ids, maskable = torch.arange(10)[None], torch.ones(1, 10, dtype=torch.bool)
    spans = pad_spans([[(2, 8, 1.0)]])
    mb = MASKERS["ast-span"](ids, maskable, torch.tensor([0.6]), MASK_ID, spans=spans)
    assert mb.is_masked[0].tolist() == [False] * 2 + [True] * 6 + [False] * 2
    mb = MASKERS["ast-span"](ids, maskable, torch.tensor([0.5]), MASK_ID, spans=spans)  # span overshoots: skipped
    assert mb.is_masked.sum() == 5


def test_span_masker_from_span_ids_only(corpus_batch):
    b = corpus_batch
    p = torch.full((b["input_ids"].shape[0],), 0.4)
    mb = _run("ast-span", b, p, torch.Generator().manual_seed(1), spans=False)
    code = b["maskable"] & (b["regions"] == 3)
    assert torch.equal((mb.is_masked & code).sum(1), torch.floor(p * code.sum(1)).long())


def test_complement_pairs_cover_every_maskable_token_once():
    maskable = torch.rand(8, 50, generator=torch.Generator().manual_seed(1)) < 0.7
    t = torch.rand(8)
    m1, m2 = complementary_masks(maskable, t, torch.Generator().manual_seed(0))
    assert torch.equal(m1 | m2, maskable) and not (m1 & m2).any()
    assert (m1.sum(1) <= maskable.sum(1)).all()


@pytest.mark.parametrize("masker", ["ast", "ast-span"])
def test_unparsable_code_still_gets_n_masks(tiny_tokenizer, masker, prep):
    preprocess, batch_of = prep
    completion = "    if x >\n        return (\n"
    (row,) = preprocess(tiny_tokenizer, [Example("def f(x):\n", completion, code_regions(completion))])
    assert not row["parsed_ok"]
    b = batch_of([row], tiny_tokenizer.pad_token_id)
    mb = _run(masker, b, torch.tensor([0.5]), torch.Generator().manual_seed(0))
    code = b["maskable"] & (b["regions"] == 3)
    assert (mb.is_masked & code).sum() == math.floor(0.5 * code.sum())


def test_regions_reasoning_uniform_code_ast(tiny_tokenizer, prep):
    preprocess, batch_of = prep
    completion = "<think>" + "plan " * 20 + "</think>\n```python\nx = 1\nfor i in range(3):\n    x += i\n```\n"
    (row,) = preprocess(tiny_tokenizer, [Example("Q", completion, reasoning_regions(completion))])
    b = batch_of([row], tiny_tokenizer.pad_token_id)
    mb = _run("ast", b, torch.tensor([0.4]), torch.Generator().manual_seed(0))
    code = b["regions"] == 3
    assert not mb.is_masked[0, : row["prompt_len"]].any()
    assert torch.allclose(mb.p_mask[b["regions"] == 2], torch.tensor(0.4))
    assert torch.allclose(mb.p_mask[code], torch.tensor(math.floor(0.4 * code.sum()) / code.sum().item()))


def _inclusion(weights: list[float], n: int) -> list[float]:
    """Exact inclusion probabilities of n successive draws without replacement, each proportional to weight; zero
    weights only once no weighted token is left, then uniformly (Algorithm 1 with its fallback)."""
    import itertools

    incl = [0.0] * len(weights)
    for order in itertools.permutations(range(len(weights)), n):
        prob, left = 1.0, set(range(len(weights)))
        for i in order:
            pool = [j for j in left if weights[j] > 0] or sorted(left)
            if i not in pool:
                prob = 0.0
                break
            total = sum(weights[j] for j in pool)
            prob *= weights[i] / total if total > 0 else 1.0 / len(pool)
            left.remove(i)
        for i in order:
            incl[i] += prob
    return incl


@pytest.mark.parametrize("weights,n", [
    ([0.15, 0.42, 0.58, 0.60, 0.15], 2),  # the tier weights: skeleton, data, conditional, control, default
    ([0.15, 0.42, 0.58, 0.60, 0.15], 4),
    ([0.0, 0.0, 0.42, 0.60], 3),  # fewer weighted tokens than N: both in, then one zero-weight token uniformly
])
def test_weighted_draw_inclusion_frequencies_match_the_analytic_ones(weights, n):
    from corruption.maskers import weighted_exact

    draws = 40_000  # one batched call; 4 standard errors at p = 0.5 is 0.01
    L = len(weights)
    code = torch.ones(draws, L, dtype=torch.bool)
    w = torch.tensor(weights).expand(draws, L)
    chosen = weighted_exact(code, w, torch.full((draws,), n), torch.Generator().manual_seed(0))
    assert (chosen.sum(1) == n).all()
    expected = torch.tensor(_inclusion(weights, n))
    assert math.isclose(expected.sum().item(), n, rel_tol=1e-9)
    torch.testing.assert_close(chosen.float().mean(0), expected.float(), atol=0.012, rtol=0)
