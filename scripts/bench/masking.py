"""Masking benchmark on the embedded code dataset: per-tier masking rates, preprocessing throughput, masking cost.

    python scripts/bench/masking.py [--model DIR] [--examples 512] [--batch 16] [--draws 10]

Prints per-tier empirical masking rates for the AST maskers (ast, ast-span) and for uniform masking (per-sample rates averaged over
samples containing every tier; see corruption/stats.py), preprocessing throughput (tokenize + tree-sitter parse +
align, samples/s), the per-batch masking cost of AST vs uniform (ratio), and the masking cost as a share of a
tiny-model training step (forward + backward) on the same batch. The last line summarises the rates and ratios.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModel

import inference  # noqa: F401
from corruption.ast_tiers import TIER_IDS, example_token_weights, tier_table
from corruption.maskers import MASKERS, pad_spans
from corruption.schedules import sample_p_mask
from corruption.stats import tier_rates
from data.collate import collate
from data.local_corpus import build_local_corpus
from data.tokenize import tokenize_example
from inference.loading import load_tokenizer
from inference.tiny import model_dir_or_tiny
from train.loss import llada_loss, loss_parts

TIER_ORDER = [TIER_IDS[t] for t in ("control", "conditional", "data", "skeleton")]


def preprocess(tokenizer, examples, max_length: int = 512) -> tuple[list[dict], float, int]:
    """Rows as the SFT preprocessing stores them (+ nested spans); samples/s of tokenize + parse + align; failures."""
    table, start, rows, unparsed = tier_table(), time.perf_counter(), [], 0
    for ex in examples:
        tok = tokenize_example(tokenizer, ex, max_length)
        if tok is None:
            continue
        w = example_token_weights(ex, tok, table)
        unparsed += not w.parsed_ok
        rows.append({"input_ids": tok.input_ids, "prompt_len": tok.prompt_len, "weights": w.weights,
                     "tier_ids": w.tier_ids, "span_ids": w.span_ids, "regions": tok.regions, "spans": w.spans})
    return rows, len(examples) / (time.perf_counter() - start), unparsed


def batch_of(rows: list[dict], pad_id: int) -> dict:
    b = collate(rows, pad_id)
    b["spans"] = pad_spans([r["spans"] for r in rows])  # [B, S, 3]
    return b


def run(name: str, b: dict, p: torch.Tensor, generator=None):
    return MASKERS[name](b["input_ids"], b["maskable"], p, 2, generator=generator, weights=b["weights"],
                         span_ids=b["span_ids"], regions=b["regions"], spans=b["spans"])


def rates(name: str, rows: list[dict], draws: int) -> dict[str, float]:
    b = batch_of(rows, 0)
    tiers = torch.full(b["input_ids"].shape, -1)
    for i, r in enumerate(rows):
        tiers[i, : len(r["tier_ids"])] = torch.tensor(r["tier_ids"])
    g = torch.Generator().manual_seed(0)
    masks = [run(name, b, sample_p_mask("linear", len(rows), 0, 1, generator=g), g).is_masked for _ in range(draws)]
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
    model_dir = model_dir_or_tiny(args.model)
    tokenizer = load_tokenizer(model_dir)
    examples = build_local_corpus(max_examples=args.examples, max_chars=1500)
    rows, samples_per_s, unparsed = preprocess(tokenizer, examples)
    ast, span, uni = (rates(name, rows, args.draws) for name in ("ast", "ast-span", "uniform"))
    print(f"{'tier':<12} {'ast':>6} {'ast-span':>9} {'uniform':>8}")
    for tier in ast:
        print(f"{tier:<12} {ast[tier]:>6.3f} {span[tier]:>9.3f} {uni[tier]:>8.3f}")

    b = batch_of(rows[: args.batch], tokenizer.pad_token_id)
    p = torch.full((args.batch,), 0.5)
    cost = {name: seconds_per_call(lambda n=name: run(n, b, p)) for name in ("uniform", "uniform-exact", "ast", "ast-span")}
    model = AutoModel.from_pretrained(model_dir).train()

    def step():
        mb = run("ast", b, p)
        logits = model(mb.noisy_ids, attention_mask=b["attention_mask"]).logits
        llada_loss(loss_parts(logits, b["input_ids"], mb.is_masked, mb.p_mask, b["maskable"])).backward()

    step_s = seconds_per_call(step, repeats=5)
    print(f"\npreprocessing (tokenize + parse + align): {samples_per_s:.0f} samples/s ({len(examples)} samples, "
          f"{unparsed} unparsable -> uniform fallback)")
    for name, s in cost.items():
        print(f"masking {name:<13} {s * 1e3:7.2f} ms/batch of {args.batch}")
    print(f"tiny training step (fwd+bwd, batch {args.batch}, L={b['input_ids'].shape[1]}, "
          f"{torch.get_num_threads()} threads): {step_s * 1e3:.1f} ms; "
          f"masking share: ast {100 * cost['ast'] / step_s:.2f}%, ast-span {100 * cost['ast-span'] / step_s:.2f}%, "
          f"uniform {100 * cost['uniform'] / step_s:.2f}%")
    fmt = " ".join(f"{k}={v:.2f}" for k, v in ast.items())
    ufmt = " ".join(f"{k}={v:.2f}" for k, v in uni.items())
    sfmt = " ".join(f"{k}={v:.2f}" for k, v in span.items())
    print(f"tier mask rate: {fmt} | uniform: {ufmt} | ast-span: {sfmt} | "
          f"ast/uniform cost ratio: {cost['ast'] / cost['uniform']:.2f} | "
          f"ast-span/uniform: {cost['ast-span'] / cost['uniform']:.2f} | "
          f"ast masking share of step: {100 * cost['ast'] / step_s:.2f}% | preprocess: {samples_per_s:.0f} samples/s")


if __name__ == "__main__":
    main()
