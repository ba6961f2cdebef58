"""`python -m train.tier_ce`: masked CE per AST tier against a hand computation, realized masking rates per tier
against their expectation (uniform: t; ast: weighted sampling without replacement by hand), the model on a second
device (meta), and the command end to end on the tiny model (a model paired with itself differs by exactly 0)."""

import json
import math
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
import torch.fx.experimental._config as fx_config

import inference  # noqa: F401  (registers model_type "llada")
from corruption.stats import CATEGORIES, OTHER, token_categories
from data.sources import SourceConfig
from data.usage import run_cli
from inference.adapters import ModelAdapter, token_logits
from inference.loading import load_model
from train.intervals import bootstrap_indices
from train.tier_ce import COLUMNS, by_rate, main, masked_ce_sums, measure, parse_args
from train.tier_rows import (
    fixed_rate_masks,
    load_rows,
    mask_counts,
    realized_rates,
    single_row,
    token_counts,
)

T = {name: i for i, name in enumerate(CATEGORIES)}
MASK_ID, V = 7, 4
LN2, LN6 = math.log(2), math.log(6)


class ToyModel(torch.nn.Module):
    """Logits at position i: ln 3 on token i % 4, 0 on the others; so CE = ln 2 on a hit and ln 6 on a miss. It
    checks that exactly the masked positions carry the mask id and are the ones scored."""

    def __init__(self, device="cpu"):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, device=device))

    def forward(self, input_ids, attention_mask=None, logits_index=None):
        rows, cols = logits_index
        if input_ids.device.type != "meta":
            assert torch.equal((input_ids == MASK_ID).nonzero(as_tuple=True)[1], cols)
        return Namespace(logits=torch.nn.functional.one_hot(cols % V, V).float() * math.log(3) + self.w)


def minicode_eval(num: int) -> SourceConfig:
    return SourceConfig(name="minicode", split="eval", max_examples=num)


ADAPTER = ModelAdapter("llada", MASK_ID, 0, False, "x")


def toy_batch():
    ids = torch.tensor([[0, 1, 3, 3, 0], [2, 2, 2, 1, 1]])  # [2, 5]
    masked = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 1, 0]], dtype=torch.bool)
    cat = torch.tensor(
        [
            [-1, T["skeleton"], T["control"], T["skeleton"], OTHER],
            [-1, T["data"], T["data"], T["conditional"], T["conditional"]],
        ]
    )
    return ids, masked, cat


def test_ce_per_tier_by_hand_on_a_toy_logits_function():
    """Row 0: positions 1, 3, 4 hit (ln 2: skeleton, skeleton, other), 2 misses (ln 6: control); row 1: position 2
    hits (data), 3 misses (conditional), 4 is not masked (its tier gets nothing)."""
    ids, masked, cat = toy_batch()
    sums = masked_ce_sums(ToyModel(), ADAPTER, ids, torch.ones_like(ids), masked, cat).numpy()  # [2, K]
    want = np.zeros((2, len(CATEGORIES)))
    want[0, T["skeleton"]], want[0, T["control"]], want[0, OTHER] = 2 * LN2, LN6, LN2
    want[1, T["data"]], want[1, T["conditional"]] = LN2, LN6
    assert np.allclose(sums, want, atol=1e-6)
    counts = mask_counts([{"categories": c[None]} for c in cat], list(masked))  # [2, K]
    report = by_rate(sums[None], counts[None], [0.5], bootstrap_indices(2, 20, 0), "ce")
    means = {c: e["ce"] for c, e in report["pooled"].items()}
    assert means["default"] is None and report["pooled"]["default"]["n"] == 0
    for tier, value in {
        "skeleton": LN2,
        "control": LN6,
        "data": LN2,
        "conditional": LN6,
        "other": LN2,
        "all": (4 * LN2 + 2 * LN6) / 6,
    }.items():
        assert means[tier] == pytest.approx(value, abs=1e-6), tier
    assert report["pooled"]["skeleton"]["n"] == 2 and report["pooled"]["all"]["n"] == 6


def test_token_categories_keep_tiers_send_non_code_and_unparsed_code_to_other():
    tiers = torch.tensor([[-1, T["skeleton"], T["control"], -1], [-1, 0, 0, -1]])  # prompt, code, code, EOS
    maskable = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1]], dtype=torch.bool)
    got = token_categories(tiers, maskable, torch.tensor([True, False]))
    assert got.tolist() == [[-1, T["skeleton"], T["control"], OTHER], [-1, OTHER, OTHER, OTHER]]


def test_masked_ce_sums_keep_every_tensor_on_the_model_device(monkeypatch):
    """meta stands in for CUDA: the model must see meta inputs, and the sums stay there (nothing copied back)."""
    monkeypatch.setattr(
        fx_config, "meta_nonzero_assume_all_nonzero", True
    )  # meta has no data to find masks in
    seen = []

    class MetaToy(ToyModel):
        def forward(self, input_ids, attention_mask=None, logits_index=None):
            seen.append({t.device.type for t in (input_ids, attention_mask, *logits_index)})
            return super().forward(input_ids, attention_mask, logits_index)

    ids, masked, cat = toy_batch()
    out = masked_ce_sums(MetaToy("meta"), ADAPTER, ids, torch.ones_like(ids), masked, cat)
    assert out.device.type == "meta" and out.shape == (2, len(CATEGORIES)) and seen == [{"meta"}]


def toy_row(tiers: list[int], weights: list[float]) -> dict:
    """prompt token, code tokens of the given tiers and AST weights, EOS (text region, weight 1)."""
    n = len(tiers)
    return {
        "input_ids": list(range(5, 7 + n)),
        "prompt_len": 1,
        "weights": [0.0, *weights, 1.0],
        "tier_ids": [-1, *tiers, -1],
        "span_ids": [-1, *range(n), -1],
        "regions": [0] + [3] * n + [1],
        "spans": [],
        "parsed_ok": True,
    }


def pooled_rates(masked: np.ndarray, tokens: np.ndarray) -> dict[str, float]:
    m, t = masked.sum(0), tokens.sum(0)
    return {c: m[k] / t[k] for k, c in enumerate(CATEGORIES) if t[k]}


@pytest.mark.parametrize("tiers", [["skeleton", "control"], ["skeleton", "data", "control"]])
def test_ast_realized_rate_per_tier_is_weighted_sampling_without_replacement(tiers):
    """t = 0.5 on 2 or 3 code tokens: N = floor(0.5 L) = 1 token drawn with probability weight / sum of weights
    (skeleton 0.15, data 0.42, control 0.60); the EOS is masked iid at t."""
    weights = {"skeleton": 0.15, "data": 0.42, "control": 0.60}
    singles = [single_row(toy_row([T[t] for t in tiers], [weights[t] for t in tiers]))] * 4000
    masks = fixed_rate_masks(singles, "ast", [0.5], seed=0)[0]
    got = pooled_rates(mask_counts(singles, masks), token_counts(singles))
    total = sum(weights[t] for t in tiers)
    for t in tiers:
        assert got[t] == pytest.approx(weights[t] / total, abs=0.03), (t, got)
    assert got["other"] == pytest.approx(0.5, abs=0.03)


def test_ast_realized_rate_at_the_linear_schedule_by_hand():
    """linear: p = (1 - 1e-3) u + 1e-3; with 2 code tokens N = 1 when p >= 0.5 (probability ~0.5005), else 0; so
    skeleton ~0.5005 * 0.2, control ~0.5005 * 0.8, and uniform masks each tier at E[p] ~0.5005."""
    singles = [single_row(toy_row([T["skeleton"], T["control"]], [0.15, 0.60]))] * 2000
    tokens = token_counts(singles) * 2
    ast, p_mean = realized_rates(singles, "ast", "linear", 100, 2, seed=0)
    uni, p_uni = realized_rates(singles, "uniform", "linear", 100, 2, seed=0)
    assert p_mean == p_uni == pytest.approx(0.5005, abs=0.02)  # the same p_mask draws for every masker
    got, flat = pooled_rates(ast, tokens), pooled_rates(uni, tokens)
    assert got["skeleton"] == pytest.approx(0.5005 * 0.2, abs=0.025)
    assert got["control"] == pytest.approx(0.5005 * 0.8, abs=0.03)
    for c in ("skeleton", "control", "other"):
        assert flat[c] == pytest.approx(p_uni, abs=0.03), c


def test_uniform_realized_rate_is_t_for_every_tier_on_minicode(tiny_tokenizer):
    pairs, info = load_rows(minicode_eval(40), tiny_tokenizer, 160)
    assert info["rows"] == 40 and info["unparsed_code_rows"] == 0
    singles = [single_row(r) for _, r in pairs] * 8
    tokens = token_counts(singles)
    assert (tokens.sum(0)[: len(CATEGORIES) - 1] > 1000).all()  # every tier occurs in minicode
    got = pooled_rates(mask_counts(singles, fixed_rate_masks(singles, "uniform", [0.3], seed=1)[0]), tokens)
    for c in CATEGORIES:
        assert got[c] == pytest.approx(0.3, abs=0.05 if c == "other" else 0.03), (c, got)


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_selected_logits_path_equals_full_logits_and_batching_does_not_matter(
    family, tiny_model_dir, tiny_dream_dir
):
    """The measured sums equal CE read off the full aligned logits (Dream's shift included), with any batch size."""
    loaded = load_model(tiny_model_dir if family == "llada" else tiny_dream_dir, device="cpu")
    pairs, _ = load_rows(minicode_eval(5), loaded.tokenizer, 160)
    rows = [r for _, r in pairs]
    singles = [single_row(r) for r in rows]
    masks = fixed_rate_masks(singles, "uniform", [0.5], seed=0)
    one, three = (measure(loaded, rows, singles, masks, size, "t")[0] for size in (1, 3))  # [n, K]
    assert np.allclose(one, three, atol=1e-4)
    for i, (b, m) in enumerate(zip(singles, masks[0])):
        noisy = b["input_ids"].masked_fill(m[None], loaded.adapter.mask_token_id)
        with torch.no_grad():
            logp = token_logits(loaded.model, noisy, b["attention_mask"], loaded.adapter).log_softmax(-1)[0]
        ce = -logp.gather(1, b["input_ids"][0][:, None])[:, 0]  # [L]
        want = [ce[m & (b["categories"][0] == k)].sum().item() for k in range(len(CATEGORIES))]
        assert np.allclose(one[i], want, atol=1e-4), i


def test_cli_end_to_end_and_a_model_paired_with_itself_differs_by_zero(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "tier_ce.json"
    report = main(
        [
            "--model",
            f"{tiny_model_dir},{tiny_model_dir}",
            "--num",
            "6",
            "--rates",
            "0.3,0.8",
            "--bootstrap",
            "50",
            "--schedule-draws",
            "2",
            "--max-length",
            "160",
            "--out",
            str(out),
        ]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["rows"] == 6 and report["tiers"] == COLUMNS and "bootstrap" in report["interval"]
    assert report["tokens"]["all"] == sum(report["tokens"][c] for c in CATEGORIES)
    first = report["models"][0]
    assert [r["rate"] for r in first["by_rate"]] == [0.3, 0.8]
    pooled = first["pooled"]["all"]
    assert pooled["n"] == sum(r["tiers"]["all"]["n"] for r in first["by_rate"]) > 0
    assert pooled["lo"] <= pooled["ce"] <= pooled["hi"] and 0 < pooled["ce"] < 20
    assert [r["tiers"]["all"]["n"] / report["tokens"]["all"] for r in first["by_rate"]] == [
        r["tiers"]["all"]["rate"] for r in report["mask_rates"]
    ]
    (paired,) = report["paired"]
    for table in [paired["pooled"]] + [r["tiers"] for r in paired["by_rate"]]:
        for c, e in table.items():
            assert e["n"] == 0 or (e["diff"], e["lo"], e["hi"]) == (0.0, 0.0, 0.0), (c, e)
    realized = report["realized_rates"]
    assert sorted(realized["maskers"]) == ["ast", "ast-span", "uniform"] and 0 < realized["mean_p_mask"] < 1
    assert "skeleton" in capsys.readouterr().out


def test_cli_help_and_one_line_errors(monkeypatch, capsys):
    with pytest.raises(SystemExit) as done:
        parse_args(["--help"])
    assert done.value.code == 0 and "--rate-maskers" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["tier_ce", "--model", "x", "--rates", "0.5,1.5"])
    monkeypatch.delenv("DIFFUCODE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as done:
        run_cli(main)
    assert done.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["error: --rates must lie in (0, 1], got 0.5,1.5"]
