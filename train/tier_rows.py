"""Held-out rows and their seeded masks for train/tier_ce.py (CPU, no model): rows built as SFT builds them, masks
drawn by a named masker at fixed rates or at SFT's noise schedule, and per-tier token and masked counts.

Every mask comes from a CPU generator keyed by (seed, what, index...), so a row gets the same mask for every model,
batch size, row count before it and machine; the masks move to the model's device with the batch.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import torch

from corruption.ast_tiers import tier_table
from corruption.maskers import MASKERS, pad_spans
from corruption.schedules import sample_p_mask
from corruption.stats import CATEGORIES, category_sums, token_categories
from data.collate import collate
from data.sources import SourceConfig, load_examples
from data.tokenize import tokenize_example
from data.usage import UsageError
from train.sft_data import example_row


def load_rows(
    source: SourceConfig, tokenizer, max_length: int, chat_template: bool = False
) -> tuple[list[tuple], dict]:
    """(example, row) pairs as SFT preprocesses them (train.sft_data.example_row), row["parsed_ok"] added; and the
    rows' bookkeeping (rows, skipped, unparsed_code_rows)."""
    try:
        examples, stats = load_examples(source)
    except UsageError as e:
        raise UsageError(
            f"{e}; here: --prompt-column / --completion-column (a minicode problems file: "
            "--completion-column canonical_solution)"
        ) from None
    table, pairs, skipped = tier_table(), [], Counter(stats.skipped)
    for ex in examples:
        row, parsed_ok = example_row(tokenizer, ex, max_length, table, chat_template)
        if row is None:
            skipped["too_long_tokens"] += 1
            continue
        pairs.append((ex, {**row, "parsed_ok": parsed_ok}))
    if not pairs:
        raise UsageError(
            f"no usable rows in --data {source.name} (skipped: {dict(skipped)}); raise --max-length?"
        )
    unparsed = sum(not r["parsed_ok"] for _, r in pairs)
    return pairs, {"rows": len(pairs), "skipped": dict(skipped), "unparsed_code_rows": unparsed}


def single_row(row: dict) -> dict[str, torch.Tensor]:
    """One row as a batch of 1 [1, L] without padding: what the maskers take, plus its categories."""
    b = collate([row], 0, pad_with_eos=False)
    b["spans"] = pad_spans([row["spans"]])  # [1, S, 3]
    tiers = torch.tensor(row["tier_ids"], dtype=torch.long)[None]  # [1, L]
    b["categories"] = token_categories(tiers, b["maskable"], torch.tensor([bool(row.get("parsed_ok", True))]))
    return b


def row_generator(seed: int, *parts) -> torch.Generator:
    """A CPU generator keyed by (seed, parts): the masks are the same on any machine and for any batching
    (ast-span's span phase runs on the CPU in any case; the masks move to the model's device with the batch)."""
    key = int.from_bytes(hashlib.sha256(repr((seed, *parts)).encode()).digest()[:8], "big") % 2**62
    return torch.Generator(device="cpu").manual_seed(key)


def draw_mask(b: dict, masker: str, p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[L] bool: one draw of `masker` at masking level p [1] on a single row b."""
    mb = MASKERS[masker](
        b["input_ids"],
        b["maskable"],
        p,
        0,
        generator=generator,
        weights=b["weights"],
        span_ids=b["span_ids"],
        regions=b["regions"],
        spans=b["spans"],
    )
    return mb.is_masked[0]


def fixed_rate_masks(
    singles: list[dict], masker: str, rates: list[float], seed: int
) -> list[list[torch.Tensor]]:
    """masks[r][i] [L_i] bool: row i masked by `masker` at rates[r]."""
    return [
        [
            draw_mask(b, masker, torch.tensor([t]), row_generator(seed, "rate", r, i))
            for i, b in enumerate(singles)
        ]
        for r, t in enumerate(rates)
    ]


def mask_counts(singles: list[dict], masks: list[torch.Tensor]) -> np.ndarray:
    """[n, K] masked tokens of each category per row."""
    return np.stack(
        [category_sums(m[None], m[None], b["categories"])[0].numpy() for b, m in zip(singles, masks)]
    )


def token_counts(singles: list[dict]) -> np.ndarray:
    """[n, K] maskable tokens of each category per row."""
    return np.stack(
        [category_sums(b["maskable"], b["maskable"], b["categories"])[0].numpy() for b in singles]
    )


def realized_rates(
    singles: list[dict], masker: str, schedule: str, total_steps: int, draws: int, seed: int
) -> tuple[np.ndarray, float]:
    """Masked counts [n, K] summed over `draws` draws per row at SFT's noise (p_mask from `schedule` at steps spread
    over training, then the masker, from one generator as train_step draws them), and the mean p_mask. The p_mask
    draws are the same for every masker (same generator keys), so maskers are compared at the same noise."""
    counts, ps = np.zeros((len(singles), len(CATEGORIES))), []
    for i, b in enumerate(singles):
        for d in range(draws):
            g = row_generator(seed, "schedule", i, d)
            step = (i * draws + d) * total_steps // (len(singles) * draws)
            p = sample_p_mask(schedule, 1, step, total_steps, generator=g)  # [1]
            m = draw_mask(b, masker, p, g)
            counts[i] += category_sums(m[None], m[None], b["categories"])[0].numpy()
            ps.append(float(p))
    return counts, float(np.mean(ps))


def same_rows(tokenizer, pairs: list[tuple], max_length: int, chat_template: bool = False) -> bool:
    """Whether `tokenizer` gives every row the token ids the first model's tokenizer gave it (pairing needs it)."""
    for ex, row in pairs:
        tok = tokenize_example(tokenizer, ex, max_length, chat_template)
        if tok is None or tok.input_ids != row["input_ids"]:
            return False
    return True
