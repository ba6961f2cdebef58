"""Sample a completion from a masked-diffusion model and print it.

    python -m inference.generate --model DIR --prompt "def add(a, b):" [--gen-length 64 --steps 64 --block-length 32
        --temperature 0 --threshold 0.9 --use-cache --chat --cfg-scale 0 --remasking low_confidence --seed 0]

DIR is a base model, a merged export or a peft adapter directory (train/sft.py's OUTPUT/final/adapter), or a Hub
name. The completion is cut at the first EOS / EOT; NFE and tokens/s go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from data.usage import run_cli
from inference.loading import encode_prompts, load_model
from inference.sampler import REMASKING, fit_block_schedule, generate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model / merged / adapter directory or Hub name")
    p.add_argument("--prompt", required=True)
    p.add_argument("--gen-length", type=int, default=64)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--cfg-scale", type=float, default=0.0)
    p.add_argument("--remasking", default="low_confidence", choices=sorted(REMASKING))
    p.add_argument("--threshold", type=float, default=None, help="Fast-dLLM parallel commits (e.g. 0.9)")
    p.add_argument("--use-cache", action="store_true", help="block-prefix KV cache")
    p.add_argument("--chat", action="store_true", help="wrap the prompt in the tokenizer's chat template")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def completion_text(tokenizer, ids: torch.Tensor, stop_ids: set[int]) -> str:
    """Decode completion ids [G] up to the first stop token."""
    ids = ids.tolist()
    cut = next((i for i, t in enumerate(ids) if t in stop_ids), len(ids))
    return tokenizer.decode(ids[:cut], skip_special_tokens=True)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    args.block_length = fit_block_schedule(args.gen_length, args.block_length, args.steps,
                                           ("--gen-length", "--block-length", "--steps"))
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    tok, adapter = loaded.tokenizer, loaded.adapter
    ids, att = encode_prompts(tok, [args.prompt], chat=args.chat, mask_id=adapter.mask_token_id, device=loaded.device)
    generator = torch.Generator(device=loaded.device).manual_seed(args.seed)
    eot = tok.convert_tokens_to_ids("<|eot_id|>") if "<|eot_id|>" in tok.get_vocab() else None
    start = time.perf_counter()
    out = generate(loaded.model, ids, attention_mask=att, steps=args.steps, gen_length=args.gen_length,
                   block_length=args.block_length, temperature=args.temperature, cfg_scale=args.cfg_scale,
                   remasking=args.remasking, eot_id=eot, generator=generator, threshold=args.threshold,
                   use_cache=args.use_cache)
    seconds = time.perf_counter() - start
    text = completion_text(tok, out.sequences[0, ids.shape[1]:], set(adapter.end_ids(tok)))
    print(text)
    print(f"[nfe {out.nfe}, {args.gen_length / seconds:.1f} tok/s]", file=sys.stderr)
    return text


if __name__ == "__main__":
    run_cli(main)
