"""Masking benchmark on the embedded code dataset: per-tier masking rates, preprocessing throughput, masking cost.

    python scripts/bench/masking.py [--model DIR] [--examples 512] [--batch 16] [--draws 10]

Prints per-tier empirical masking rates for the AST masker and for uniform masking (per-sample rates averaged over
samples containing every tier; see corruption/stats.py), preprocessing throughput (tokenize + tree-sitter parse +
align, samples/s), the per-batch masking cost of AST vs uniform (ratio), and the masking cost as a share of a
tiny-model training step (forward + backward) on the same batch. The last line summarises the rates and ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from transformers import AutoModel, AutoTokenizer

import inference  # noqa: F401
from corruption.ast_tiers import tier_table
from corruption.maskers import MASKERS
from corruption.schedules import sample_p_mask
from corruption.stats import tier_rates
from data.collate import collate
from data.local_corpus import build_local_corpus
from train.loss import llada_loss, loss_parts
from train.sft_data import example_row

TIER_ORDER = [4, 3, 2, 1]  # control, conditional, data, skeleton


def preprocess(tokenizer, examples) -> tuple[list[dict], float]:
    table, start = tier_table(), time.perf_counter()
    rows = [example_row(tokenizer, ex, 512, table)[0] for ex in examples]
    return [r for r in rows if r is not None], len(examples) / (time.perf_counter() - start)


def rates(name: str, rows: list[dict], draws: int) -> dict[str, float]:
    b = collate(rows, 0)
    tiers = torch.full(b["input_ids"].shape, -1)
    for i, r in enumerate(rows):
        tiers[i, : len(r["tier_ids"])] = torch.tensor(r["tier_ids"])
    g = torch.Generator().manual_seed(0)
    masks = [MASKERS[name](b["input_ids"], b["maskable"], sample_p_mask("linear", len(rows), 0, 1, generator=g), 2,
                           generator=g, weights=b["weights"], span_ids=b["span_ids"], regions=b["regions"]).is_masked
             for _ in range(draws)]
    return tier_rates(torch.stack(masks), tiers.expand(draws, *tiers.shape), TIER_ORDER)


def seconds_per_call(fn, repeats: int = 20) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    model_dir = args.model
    if model_dir is None:
        from inference.tiny import build_tiny

        model_dir = build_tiny(tempfile.mkdtemp(prefix="tiny-"), seed=0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows, samples_per_s = preprocess(tokenizer, build_local_corpus(max_examples=args.examples, max_chars=1500))
    ast, uni = rates("ast", rows, args.draws), rates("uniform", rows, args.draws)
    print(f"{'tier':<12} {'ast':>6} {'uniform':>8}")
    for tier in ast:
        print(f"{tier:<12} {ast[tier]:>6.3f} {uni[tier]:>8.3f}")

    b = collate(rows[: args.batch], tokenizer.pad_token_id)
    p = torch.full((args.batch,), 0.5)
    cost = {name: seconds_per_call(lambda n=name: MASKERS[n](b["input_ids"], b["maskable"], p, 2, weights=b["weights"],
                                                            span_ids=b["span_ids"], regions=b["regions"]))
            for name in ("uniform", "ast", "ast-span")}
    model = AutoModel.from_pretrained(model_dir).train()

    def step():
        mb = MASKERS["ast"](b["input_ids"], b["maskable"], p, 2, weights=b["weights"], regions=b["regions"])
        logits = model(mb.noisy_ids, attention_mask=b["attention_mask"]).logits
        llada_loss(loss_parts(logits, b["input_ids"], mb.is_masked, mb.p_mask, b["maskable"])).backward()

    step_s = seconds_per_call(step, repeats=5)
    print(f"\npreprocessing: {samples_per_s:.0f} samples/s ({len(rows)} samples)")
    for name, s in cost.items():
        print(f"masking {name:<9} {s * 1e3:7.2f} ms/batch of {args.batch}")
    print(f"tiny training step (fwd+bwd, batch {args.batch}, L={b['input_ids'].shape[1]}): {step_s * 1e3:.1f} ms; "
          f"AST masking share: {100 * cost['ast'] / step_s:.1f}%")
    fmt = " ".join(f"{k}={v:.2f}" for k, v in ast.items())
    ufmt = " ".join(f"{k}={v:.2f}" for k, v in uni.items())
    print(f"tier mask rate: {fmt} | uniform: {ufmt} | ast/uniform cost ratio: {cost['ast'] / cost['uniform']:.2f} | "
          f"masking share of step: {100 * cost['ast'] / step_s:.1f}% | preprocess: {samples_per_s:.0f} samples/s")


if __name__ == "__main__":
    main()
