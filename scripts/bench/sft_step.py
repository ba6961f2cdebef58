"""SFT step throughput (ours vs a bare PyTorch loop) and the LLaDA-8B ZeRO-2 + LoRA memory estimate.

    python scripts/bench/sft_step.py [--model DIR] [--steps 20] [--batch 8] [--max-length 256]

Throughput: the same tiny model, batch, LoRA, masker and loss; "ours" is train.sft.train_step inside a 1-rank
DeepSpeed ZeRO-2 engine (gradient checkpointing off in both, for a like-for-like comparison), "bare" is a plain
torch loop (masker -> forward -> loss -> backward -> clip -> AdamW step). Printed side by side with their ratio.

Memory estimate per GPU for LLaDA-8B, LoRA r=64 on the 7 block linears, ZeRO-2, bf16, micro-batch 1, seq 4096, 8 GPUs:
  frozen base weights (not partitioned by ZeRO-2):       2 B x 8,015,581,184
  trainable LoRA states (DeepSpeed's own estimator,
    estimate_zero2_model_states_mem_needs, no offload):  2 P + 18 P / n_gpus,  P = 167,772,160
  activations with gradient checkpointing:               n_layers * s * d * 2 B (block inputs kept)
                                                         + s * (4 d + 3 h) * 2 B (one block recomputed)
  LM head and loss:                                      s * V * 2 B (bf16 logits) + 2 * (s / 2) * V * 4 B
                                                         (fp32 CE over ~half the tokens masked, and its gradient)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

GiB = 1024**3


def memory_estimate(n_gpus: int = 8, seq: int = 4096) -> dict[str, float]:
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    total, lora = 8_015_581_184, 167_772_160
    d, h, n_layers, vocab = 4096, 12288, 32, 126464
    _, lora_states = estimate_zero2_model_states_mem_needs(lora, n_gpus, 1, cpu_offload=False)
    parts = {
        "frozen base weights (bf16)": 2 * total,
        "LoRA params+grads+Adam (DeepSpeed estimator)": lora_states,
        "checkpointed block inputs": n_layers * seq * d * 2,
        "one recomputed block": seq * (4 * d + 3 * h) * 2,
        "logits + fp32 CE + grad": seq * vocab * 2 + 2 * (seq // 2) * vocab * 4,
    }
    return {k: v / GiB for k, v in parts.items()}


def bare_loop(model_dir: str, batch: dict, steps: int, lr: float) -> float:
    """tokens/s of a plain torch training loop on the same batch."""
    from corruption.maskers import MASKERS
    from corruption.schedules import sample_p_mask
    from train.engine import LoraSettings, load_model_and_tokenizer, wrap_lora
    from train.loss import llada_loss, loss_parts

    class _S:  # the engine's settings shape, for load_model_and_tokenizer
        model, trust_remote_code, init_adapter = model_dir, False, None

    model, _, adapter = load_model_and_tokenizer(_S)
    model = wrap_lora(model, LoraSettings(r=8, alpha=16, dropout=0.0), adapter).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    tokens = batch["attention_mask"].sum().item()
    start = None
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()  # two warm-up steps
        gen = torch.Generator().manual_seed(step)
        p = sample_p_mask("linear", batch["input_ids"].shape[0], step, steps, generator=gen)
        mb = MASKERS["ast"](batch["input_ids"], batch["maskable"], p, adapter.mask_token_id, generator=gen,
                            weights=batch["weights"], span_ids=batch.get("span_ids"), regions=batch.get("regions"))
        logits = model(input_ids=mb.noisy_ids, attention_mask=batch["attention_mask"]).logits
        loss = llada_loss(loss_parts(logits, batch["input_ids"], mb.is_masked, mb.p_mask, batch["maskable"]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return tokens * steps / (time.perf_counter() - start)


def ours(model_dir: str, batch: dict, steps: int, lr: float) -> float:
    from train import sft
    from train.config import load_config
    from train.engine import build_engine

    cfg = load_config(sft.Config, [f"model={model_dir}", "lora.r=8", "lora.alpha=16", "lora.dropout=0",
                                   f"optim.lr={lr}", "gradient_checkpointing=false", "bf16=false", "masker=ast",
                                   f"micro_batch_size={batch['input_ids'].shape[0]}", "grad_accum=1"])
    engine, _, adapter = build_engine(cfg, steps + 2)
    tokens = batch["attention_mask"].sum().item()
    start = None
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        sft.train_step(cfg, engine, adapter, [batch], step, steps)
    return tokens * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from data.collate import collate
    from data.sources import SourceConfig
    from train import dist
    from train.sft_data import load_sft_rows

    torch.manual_seed(0)
    dist.init_distributed()
    from inference.tiny import model_dir_or_tiny

    model_dir = model_dir_or_tiny(args.model)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = load_sft_rows(SourceConfig(max_examples=args.batch * 4), tok, args.max_length, False, {},
                            __import__("pathlib").Path(tempfile.mkdtemp()))
    batch = collate([rows[i] for i in range(args.batch)], tok.pad_token_id)

    bare_tps = bare_loop(model_dir, batch, args.steps, 1e-3)
    ours_tps = ours(model_dir, batch, args.steps, 1e-3)
    print(f"{'loop':<28} {'tokens/s':>10}")
    print(f"{'bare PyTorch (LoRA, AdamW)':<28} {bare_tps:>10.0f}")
    print(f"{'ours (DeepSpeed ZeRO-2)':<28} {ours_tps:>10.0f}")
    print("\nLLaDA-8B, LoRA r64, ZeRO-2, bf16, seq 4096, micro-batch 1, 8x80GB: estimated GiB per GPU")
    mem = memory_estimate()
    for name, gib in mem.items():
        print(f"  {name:<46} {gib:>7.2f}")
    print(f"  {'total':<46} {sum(mem.values()):>7.2f}  (of 80)")
    print(f"ours/bare tokens-per-second ratio: {ours_tps / bare_tps:.3f} | LLaDA-8B ZeRO-2 LoRA peak estimate: "
          f"{sum(mem.values()):.1f} GiB per GPU")


if __name__ == "__main__":
    main()
