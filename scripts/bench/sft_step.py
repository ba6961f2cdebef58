"""SFT step throughput (ours vs a bare PyTorch loop) and the LLaDA-8B ZeRO-2 + LoRA memory estimate.

    python scripts/bench/sft_step.py [--model DIR] [--pairs 7] [--steps 5] [--batch 8] [--max-length 256]
        [--profile]

Throughput: the same model (default tiny; --model the minicode small one), batch, LoRA, masker, loss and LM head on the
masked positions only; "ours" is train.sft.train_step inside a 1-rank
DeepSpeed ZeRO-2 engine (gradient checkpointing off in both, for a like-for-like comparison), "bare" is a plain
torch loop (masker -> forward -> loss -> backward -> clip -> AdamW step). Both are built once, warmed up (2 steps
each, not timed), then timed alternately in one process with the same threads: bare, ours, bare, ours, ...
(--pairs pairs of --steps steps each). Each pair gives ours/bare tokens-per-second; printed: the median with its
min and max (the machine is shared, so single runs measure noise).
Measured 2026-12-04, quiet machine, the minicode small model (`--model RUN/model --pairs 7 --steps 10 --batch 32
--max-length 160`: 32 x 119 tokens, 2 threads, LoRA r8): ours/bare median 0.978 (min 0.937, max 1.051). --profile adds torch.profiler tables (top ops
by self CPU time) of one step of each.

Memory estimate per GPU for LLaDA-8B, LoRA r=64 on the 7 block linears, ZeRO-2 (configs/deepspeed/zero2.json), bf16,
micro-batch 1, seq 4096, 8 GPUs: train/estimates.py's zero2_lora_memory, each term documented there.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

GiB = 1024**3


def memory_estimate(n_gpus: int = 8, seq: int = 4096) -> dict[str, float]:
    """GiB per GPU, term by term (train/estimates.py), for LLaDA-8B with LoRA r64 and configs/deepspeed/zero2.json."""
    from inference.configuration_llada import LLaDAConfig
    from inference.dims import lora_parameters, model_dims
    from train.estimates import zero2_lora_memory

    config = LLaDAConfig()
    parts = zero2_lora_memory(model_dims(config), lora_parameters(config, 64), seq, n_gpus=n_gpus)
    return {k: v / GiB for k, v in parts.items()}


def bare_setup(model_dir: str, lr: float):
    """A step function of a plain torch training loop on the same model, LoRA, masker and loss."""
    from corruption.maskers import MASKERS
    from corruption.schedules import sample_p_mask
    from inference.adapters import selected_token_logits
    from train.engine import EngineSettings, LoraSettings, load_model_and_tokenizer, wrap_lora
    from train.loss import llada_loss, loss_parts

    model, _, adapter = load_model_and_tokenizer(EngineSettings(model=model_dir, bf16="false"))
    model = wrap_lora(model, LoraSettings(r=8, alpha=16, dropout=0.0), adapter).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)

    def step_fn(batch: dict, step: int, steps: int) -> None:
        gen = torch.Generator().manual_seed(step)
        p = sample_p_mask("linear", batch["input_ids"].shape[0], step, steps, generator=gen)
        mb = MASKERS["ast"](batch["input_ids"], batch["maskable"], p, adapter.mask_token_id, generator=gen,
                            weights=batch["weights"], span_ids=batch.get("span_ids"), regions=batch.get("regions"),
                            spans=batch.get("spans"))
        logits = selected_token_logits(model, mb.noisy_ids, batch["attention_mask"], adapter, mb.is_masked)  # [N, V]
        loss = llada_loss(loss_parts(logits, batch["input_ids"], mb.is_masked, mb.p_mask, batch["maskable"]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step_fn


def ours_setup(model_dir: str, batch: dict, total: int, lr: float):
    """A step function of train.sft.train_step in a 1-rank DeepSpeed ZeRO-2 engine."""
    from train import sft
    from train.config import load_config
    from train.engine import build_engine

    cfg = load_config(sft.Config, [f"model={model_dir}", "lora.r=8", "lora.alpha=16", "lora.dropout=0",
                                   f"optim.lr={lr}", "gradient_checkpointing=false", "bf16=false", "masker=ast",
                                   "optim.max_grad_norm=1.0", f"micro_batch_size={batch['input_ids'].shape[0]}",
                                   "grad_accum=1"])
    engine, _, adapter = build_engine(cfg, total)

    def step_fn(batch: dict, step: int, steps: int) -> None:
        sft.train_step(cfg, engine, adapter, [batch], step, steps)

    return step_fn


def timed_tps(step_fn, batch: dict, first: int, steps: int, total: int) -> float:
    tokens = batch["attention_mask"].sum().item()
    start = time.perf_counter()
    for step in range(first, first + steps):
        step_fn(batch, step, total)
    return tokens * steps / (time.perf_counter() - start)


def alternate(loops: dict, batch: dict, pairs: int, steps: int) -> list[tuple[float, float]]:
    """[(bare tok/s, ours tok/s)] per pair, after 2 untimed warm-up steps of each."""
    total = 2 + pairs * steps
    for fn in loops.values():
        timed_tps(fn, batch, 0, 2, total)
    out = []
    for k in range(pairs):
        first = 2 + k * steps
        out.append(tuple(timed_tps(loops[name], batch, first, steps, total) for name in ("bare", "ours")))
    return out


def profile(loops: dict, batch: dict, total: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for name, fn in loops.items():
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            fn(batch, total - 1, total)
        print(f"\n== torch.profiler, one step of {name} (top 15 by self CPU time) ==")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per loop per pair")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    from data.collate import collate
    from data.sources import SourceConfig
    from train import dist
    from train.sft_data import load_sft_rows

    torch.manual_seed(0)
    dist.init_distributed()
    from inference.loading import load_tokenizer
    from inference.tiny import model_dir_or_tiny

    model_dir = model_dir_or_tiny(args.model)
    tok = load_tokenizer(model_dir)
    rows, _ = load_sft_rows(SourceConfig(max_examples=args.batch * 4), tok, args.max_length, False, {},
                            __import__("pathlib").Path(tempfile.mkdtemp()))
    batch = collate([rows[i] for i in range(args.batch)], tok.pad_token_id)

    loops = {"bare": bare_setup(model_dir, 1e-3), "ours": ours_setup(model_dir, batch, 2 + args.pairs * args.steps, 1e-3)}
    results = alternate(loops, batch, args.pairs, args.steps)
    ratios = [o / b for b, o in results]
    print(f"threads {torch.get_num_threads()}, batch {args.batch} x {batch['input_ids'].shape[1]} tokens, "
          f"{args.pairs} pairs of {args.steps} steps (bare, ours alternating)")
    print(f"{'pair':>4} {'bare tok/s':>11} {'ours tok/s':>11} {'ours/bare':>10}")
    for k, ((b, o), r) in enumerate(zip(results, ratios)):
        print(f"{k + 1:>4} {b:>11.0f} {o:>11.0f} {r:>10.3f}")
    if args.profile:
        profile(loops, batch, 2 + args.pairs * args.steps)
    print("\nLLaDA-8B, LoRA r64, ZeRO-2, bf16, seq 4096, micro-batch 1, 8x80GB: estimated GiB per GPU")
    mem = memory_estimate()
    for name, gib in mem.items():
        print(f"  {name:<46} {gib:>7.2f}")
    print(f"  {'total':<46} {sum(mem.values()):>7.2f}  (of 80)")
    print(f"ours/bare tokens-per-second ratio: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max "
          f"{max(ratios):.3f}) over {len(ratios)} alternating pairs | LLaDA-8B ZeRO-2 LoRA peak estimate: "
          f"{sum(mem.values()):.1f} GiB per GPU")


if __name__ == "__main__":
    main()
