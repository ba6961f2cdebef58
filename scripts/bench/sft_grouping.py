"""Length-grouped vs shuffled SFT micro-batches: non-pad tokens/s and padding fraction, interleaved in one run.

    python scripts/bench/sft_grouping.py [--model DIR] [--rows 640] [--batch 8] [--bucket 16] [--scale 8]

Rows are synthetic (random token ids, one EOS at the end, the first 15% prompt) with a long-tailed length
distribution shaped like OpenCodeReasoning's under the TreeDiff recipe's 4,096-token cap: log-normal with median
1,200 tokens and sigma 0.6, clipped to [128, 4096], then divided by --scale for this CPU (default 8: 16 to 512
tokens, median 150). Both variants run the real train.sft.micro_batches + train.sft.train_step (LLaDA EOS padding,
uniform masker, LoRA r8) in one 1-rank DeepSpeed ZeRO-2 engine, alternating A B A B: in each round each variant
takes --bucket steps of one micro-batch, so a grouped round is exactly one length bucket and the rounds together are
one epoch for each variant (the same rows). Reported: non-pad tokens/s median (min, max) over rounds, padding
fraction over all steps, supervised EOS targets per row, and the grouped/shuffled ratio per round.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def synthetic_rows(n: int, scale: int, vocab: int, eos: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    full = (torch.randn(n, generator=g) * 0.6).exp() * 1200  # log-normal, median 1,200 tokens at full scale
    lengths = (full.clamp(128, 4096) / scale).round().long().tolist()
    rows = []
    for n_tok in lengths:
        ids = torch.randint(10, vocab, (n_tok,), generator=g)
        ids[ids == eos] = 11
        ids[-1] = eos
        rows.append({"input_ids": ids.tolist(), "prompt_len": max(1, int(0.15 * n_tok)), "spans": []})
    return rows


def run_steps(cfg, engine, adapter, rows, order, position: int, steps: int, eos: int) -> tuple[float, dict]:
    """Seconds for `steps` training steps from `position`, and their token counts."""
    from train import sft

    counts = {"real": 0, "padded": 0, "eos": 0, "rows": 0}
    seconds = 0.0
    for s in range(steps):  # grad_accum 1 on 1 rank: a step is one micro-batch
        at = position + s * cfg.micro_batch_size
        batches = sft.micro_batches(cfg, rows, order, at, eos)
        counts["real"] += sum(len(rows[i]["input_ids"]) for i in order.micro_batch(at, 0, 0, 1, cfg.micro_batch_size))
        counts["padded"] += batches[0]["input_ids"].numel()
        counts["eos"] += int(((batches[0]["input_ids"] == eos) & batches[0]["maskable"]).sum())
        counts["rows"] += cfg.micro_batch_size
        t0 = time.perf_counter()
        sft.train_step(cfg, engine, adapter, batches, s, steps)
        seconds += time.perf_counter() - t0
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--rows", type=int, default=640)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--bucket", type=int, default=16, help="micro-batches per length bucket")
    parser.add_argument("--scale", type=int, default=8, help="lengths divided by this (4,096 -> 512 at 8)")
    args = parser.parse_args()
    from inference.tiny import model_dir_or_tiny
    from train import dist, sft
    from train.config import load_config
    from train.engine import build_engine
    from train.sft_data import SampleOrder

    torch.manual_seed(0)
    dist.init_distributed()
    model_dir = model_dir_or_tiny(args.model)
    cfg = load_config(sft.Config, [f"model={model_dir}", "lora.r=8", "lora.alpha=16", "lora.dropout=0",
                                   "optim.lr=1e-4", "gradient_checkpointing=false", "bf16=false", "masker=uniform",
                                   f"micro_batch_size={args.batch}", "grad_accum=1", "group_by_length=true",
                                   f"group_bucket_batches={args.bucket}"])
    rounds = args.rows // (args.batch * args.bucket)
    engine, tokenizer, adapter = build_engine(cfg, 2 * rounds * args.bucket + 2)
    eos = tokenizer.eos_token_id
    rows = synthetic_rows(rounds * args.batch * args.bucket, args.scale, len(tokenizer), eos)
    orders = {"shuffled": SampleOrder(len(rows), cfg.seed), "grouped": sft.sample_order(cfg, rows)}
    for order in orders.values():  # warm-up: one step of each, outside the epoch measured below
        run_steps(cfg, engine, adapter, rows, order, len(rows), 1, eos)

    tps = {k: [] for k in orders}
    total = {k: {"real": 0, "padded": 0, "eos": 0, "rows": 0} for k in orders}
    for r in range(rounds):
        for name, order in orders.items():  # A B A B: machine load drifts hit both alike
            seconds, counts = run_steps(cfg, engine, adapter, rows, order, r * args.bucket * args.batch,
                                        args.bucket, eos)
            tps[name].append(counts["real"] / seconds)
            for k in counts:
                total[name][k] += counts[k]
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in tps.items()), flush=True)

    lengths = sorted(len(x["input_ids"]) for x in rows)
    print(f"\n{len(rows)} synthetic rows, lengths {lengths[0]}..{lengths[-1]} (median {lengths[len(rows) // 2]}), "
          f"1/{args.scale} of OpenCodeReasoning-like; micro-batch {args.batch}, bucket {args.bucket} micro-batches, "
          f"{rounds} rounds x {args.bucket} steps per variant, 1 rank, tiny model ({model_dir})")
    print(f"{'order':<10} {'non-pad tokens/s median (min, max)':>36} {'padding':>8} {'EOS targets/row':>16}")
    for name in orders:
        v, t = tps[name], total[name]
        print(f"{name:<10} {statistics.median(v):>14.0f} ({min(v):.0f}, {max(v):.0f}){'':>6} "
              f"{1 - t['real'] / t['padded']:>8.1%} {t['eos'] / t['rows']:>16.2f}")
    ratios = [g / s for g, s in zip(tps["grouped"], tps["shuffled"])]
    print(f"RESULT grouped/shuffled non-pad tokens/s: {statistics.median(ratios):.2f}x "
          f"({min(ratios):.2f}, {max(ratios):.2f}) over {rounds} rounds")


if __name__ == "__main__":
    main()
