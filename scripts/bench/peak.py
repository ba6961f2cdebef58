"""How far minicode's work runs from this machine's peak: achieved FLOP/s of the small model's forward (generation)
and training step against torch's own fp32 matmul rate, large and at the model's shapes.

    python scripts/bench/peak.py [--repeats 5] [--eval-batch 8] [--gen-length 96] [--train-batch 32]
        [--train-length 160]

Takes about a minute on 2 CPU cores. The model is minicode's (`make_tiny_model.py --preset small`: d_model 192,
3 layers, vocab 2,048; random weights, which cost the same FLOPs as trained ones). FLOPs are counted by torch
(`torch.utils.flop_counter.FlopCounterMode`: matmuls and attention), not by hand. Shapes:
- generation: one denoising step of `repair.evaluate` (batch 8, the longest of 8 minicode eval prompts + 96 completion
  tokens; a plain decode makes one such forward per token, 96 per batch);
- training: one SFT micro-batch forward + backward (32 rows of 160 tokens, configs/sft/minicode.yaml);
- peak: a 2048 x 2048 x 2048 fp32 matmul (the BLAS's best case), and the model's largest matmul at the generation
  shape (tokens x 192 -> 512, its MLP), which bounds what a model this narrow can reach.
All at torch's default thread count (the --full run's evaluations use 2 threads; its 2-rank SFT, 1 per rank). The
last line is `generation at X% of the matmul peak: the 400-problem evaluation's forwards >= Y s at peak`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModel

import inference  # noqa: F401
from data.minicode import generate_problems
from inference.loading import load_tokenizer
from inference.tiny import PRESETS, build_tiny


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first-call allocation and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def flops_of(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def row(name: str, shape: str, flops: int, seconds: float, peak: float | None) -> float:
    rate = flops / seconds / 1e9
    share = f"{100 * rate / peak:5.1f}%" if peak else "  (peak)"
    print(f"| {name:<34} | {shape:<24} | {flops / 1e9:8.3f} | {1e3 * seconds:9.2f} | {rate:7.1f} | {share} |")
    return rate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--eval-batch", type=int, default=8)
    p.add_argument("--gen-length", type=int, default=96)
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--train-length", type=int, default=160)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = build_tiny(tmp, seed=0, sizes=PRESETS["small"])
        model, tokenizer = AutoModel.from_pretrained(out).eval(), load_tokenizer(out)
    sizes = PRESETS["small"]
    prompts = [r["prompt"] for r in generate_problems("eval", 64, 1)]
    lengths = [len(tokenizer(x, add_special_tokens=False)["input_ids"]) for x in prompts]
    batches = [max(lengths[i : i + args.eval_batch]) for i in range(0, len(lengths), args.eval_batch)]
    gen_len = int(statistics.median(batches)) + args.gen_length
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; minicode small model "
          f"({sum(p.numel() for p in model.parameters()):,} parameters); eval prompts {min(lengths)}-{max(lengths)} "
          f"tokens (median of batch maxima {gen_len - args.gen_length}) -> generation length {gen_len}")
    print("| work | shape | GFLOP per call | ms per call | GFLOP/s | of peak |")
    print("|---|---|---|---|---|---|")

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    peak = row("matmul, large", "2048 x 2048 x 2048", 2 * 2048**3, best_seconds(lambda: a @ b, args.repeats), None)
    tokens = args.eval_batch * gen_len
    x, w = torch.randn(tokens, sizes.d_model), torch.randn(sizes.d_model, sizes.mlp_hidden_size)
    row("matmul at the model's MLP shape", f"{tokens} x {sizes.d_model} x {sizes.mlp_hidden_size}",
        2 * tokens * sizes.d_model * sizes.mlp_hidden_size, best_seconds(lambda: x @ w, args.repeats), peak)

    ids = torch.randint(3, sizes.vocab_size, (args.eval_batch, gen_len))

    def forward():
        with torch.inference_mode():
            model(input_ids=ids)

    gen_flops, gen_s = flops_of(forward), best_seconds(forward, args.repeats)
    gen_rate = row("generation step (forward)", f"{args.eval_batch} x {gen_len} tokens", gen_flops, gen_s, peak)

    batch = torch.randint(3, sizes.vocab_size, (args.train_batch, args.train_length))
    model.train()

    def train_step():
        logits = model(input_ids=batch).logits
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.flatten()).backward()
        model.zero_grad(set_to_none=True)

    row("SFT micro-batch (forward + backward)", f"{args.train_batch} x {args.train_length} tokens",
        flops_of(train_step), best_seconds(train_step, args.repeats), peak)
    forwards = 400 // args.eval_batch * args.gen_length  # one forward per committed token, per batch of 8 problems
    print(f"generation at {100 * gen_rate / peak:.0f}% of the matmul peak: the 400-problem evaluation's {forwards:,} "
          f"forwards take {forwards * gen_s:.0f} s here, >= {forwards * gen_flops / peak / 1e9:.0f} s at peak")


if __name__ == "__main__":
    main()
