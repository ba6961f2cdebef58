"""Sampler speed: our `generate` vs a straightforward transcription of LLaDA's reference, and the Fast-dLLM modes.

    python scripts/bench/sampler.py [--model DIR] [--gen-length 256] [--block-length 32] [--batch 4]
        [--threshold 0.9] [--head-scale 500] [--repeats 2]

Takes about 1.5 minutes on 2 CPU cores.

Same model, prompts (left-padded, different lengths) and settings (steps = gen_length, temperature 0) for every row.
Reports NFE, wall time, tokens/s, agreement of the generated tokens with the plain sampler, and whether the output
equals the reference's. The random tiny model's probabilities are ~1/V everywhere, so a confidence threshold never
fires on it; the second table runs the same model with its LM head scaled by --head-scale (sharper, trained-like
confidences: a stand-in, not a trained model) to show what the parallel commits save. Pass --model for a real one;
a fully fine-tuned tiny model takes under two minutes here:

    deepspeed --num_gpus 2 train/sft.py --config configs/sft/tiny.yaml lora.enabled=false max_steps=300 \
        output_dir=runs/sft-tiny-full
    python scripts/bench/sampler.py --model runs/sft-tiny-full/final/merged --head-scale 1

(that model has learned LLaDA's EOS padding first, so most of what it commits in parallel is confident EOS).
The last line is `plain/reference speed ratio: X, threshold NFE reduction: Yx (agreement Z)`.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoModel

import inference  # noqa: F401
from data.local_corpus import build_local_corpus
from inference.loading import encode_prompts, load_tokenizer
from inference.sampler import generate
from inference.tiny import model_dir_or_tiny

REPO = Path(__file__).resolve().parents[2]


def load_reference():
    """tests/inference/reference_sampler.py, the oracle of the equality tests (loaded by path: tests is no package)."""
    spec = importlib.util.spec_from_file_location("reference_sampler", REPO / "tests/inference/reference_sampler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_generate


def timed(fn, repeats: int):
    """(result, best wall time in seconds) over `repeats` runs."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def run_table(model, ids, att, args, reference_generate) -> dict[str, dict]:
    cfg = model.config
    P, n_tokens = ids.shape[1], ids.shape[0] * args.gen_length
    kw = dict(steps=args.gen_length, gen_length=args.gen_length, block_length=args.block_length)
    ref_kw = dict(mask_id=cfg.mask_token_id, eos_id=cfg.eos_token_id, eot_id=None, **kw)
    rows = {
        "reference": lambda: (reference_generate(model, ids, att, **ref_kw), args.gen_length),
        "plain": lambda: _ours(model, ids, att, kw),
        f"threshold {args.threshold}": lambda: _ours(model, ids, att, dict(kw, threshold=args.threshold)),
        "prefix cache": lambda: _ours(model, ids, att, dict(kw, use_cache=True)),
        "threshold + cache": lambda: _ours(model, ids, att, dict(kw, threshold=args.threshold, use_cache=True)),
        "dual cache": lambda: _ours(model, ids, att, dict(kw, dual_cache=True)),
        "threshold + dual": lambda: _ours(model, ids, att, dict(kw, threshold=args.threshold, dual_cache=True)),
    }
    results = {}
    for name, fn in rows.items():
        (seq, nfe), seconds = timed(fn, args.repeats)
        results[name] = dict(seq=seq[:, P:], nfe=nfe, seconds=seconds, tps=n_tokens / seconds)
    plain, ref = results["plain"]["seq"], results["reference"]["seq"]
    print(f"{'mode':<20} {'NFE':>5} {'seconds':>8} {'tok/s':>8} {'agree w/ plain':>15} {'== reference':>13}")
    for name, r in results.items():
        r["agree"] = (r["seq"] == plain).float().mean().item()
        same = bool(torch.equal(r["seq"], ref))
        print(f"{name:<20} {r['nfe']:>5} {r['seconds']:>8.2f} {r['tps']:>8.1f} {r['agree']:>15.3f} {str(same):>13}")
    return results


def _ours(model, ids, att, kw):
    out = generate(model, ids, att, **kw)
    return out.sequences, out.nfe


@contextmanager
def lm_head_scaled(model, scale: float):
    """Sharper (scale > 1) confidences from the same model, restored on exit."""
    head = model.get_output_embeddings().weight
    original = head.detach().clone()
    with torch.no_grad():
        head.mul_(scale)
    try:
        yield
    finally:
        with torch.no_grad():
            head.copy_(original)


def threshold_sweep(model, ids, att, args, scales: list[float]) -> None:
    """NFE and agreement of threshold mode as the LM head sharpens (how much it saves depends on confidence)."""
    kw = dict(steps=args.gen_length, gen_length=args.gen_length, block_length=args.block_length)
    cells = []
    for scale in scales:
        with lm_head_scaled(model, scale):
            plain, fast = _ours(model, ids, att, kw), _ours(model, ids, att, dict(kw, threshold=args.threshold))
        agree = (fast[0] == plain[0])[:, ids.shape[1]:].float().mean().item()
        cells.append(f"x{scale:g}: {plain[1] / fast[1]:.2f}x NFE, agree {agree:.2f}")
    print(f"threshold {args.threshold} vs LM-head scale -> " + "; ".join(cells))


def bench_prompts(tokenizer, batch: int, mask_id: int):
    """Function headers from the local corpus, cut to different lengths so the batch needs left padding."""
    examples = build_local_corpus(max_examples=batch)
    prompts = [ex.prompt[: 60 + 40 * i] for i, ex in enumerate(examples[:batch])]
    return encode_prompts(tokenizer, prompts, mask_id=mask_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model dir (default: build the tiny model in a temp dir)")
    parser.add_argument("--gen-length", type=int, default=256)
    parser.add_argument("--block-length", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--head-scale", type=float, default=500.0, help="LM-head scale for the sharpened table")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model_dir = model_dir_or_tiny(args.model)
    model = AutoModel.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(model_dir)
    ids, att = bench_prompts(tokenizer, args.batch, model.config.mask_token_id)
    reference_generate = load_reference()
    print(f"batch {ids.shape[0]}, prompt lengths {att.sum(1).tolist()}, gen_length {args.gen_length}, "
          f"steps {args.gen_length}, block_length {args.block_length}, temperature 0, threads {torch.get_num_threads()}")
    threshold_sweep(model, ids, att, args, [1, 200, 500, 1000])
    print("\n== model as loaded ==")
    plain_table = run_table(model, ids, att, args, reference_generate)
    if args.head_scale != 1.0:
        print(f"\n== LM head x{args.head_scale:g} (sharpened stand-in for a trained model) ==")
        with lm_head_scaled(model, args.head_scale):
            sharp = run_table(model, ids, att, args, reference_generate)
    else:
        sharp = plain_table
    thr = sharp[f"threshold {args.threshold}"]
    both = sharp["threshold + cache"]
    ratio = plain_table["plain"]["tps"] / plain_table["reference"]["tps"]
    print(f"\nplain/reference speed ratio: {ratio:.2f}, threshold NFE reduction: "
          f"{sharp['plain']['nfe'] / thr['nfe']:.2f}x (agreement {thr['agree']:.3f}), threshold + cache: "
          f"{sharp['plain']['nfe'] / both['nfe']:.2f}x NFE, {both['tps'] / sharp['plain']['tps']:.2f}x tok/s "
          f"(agreement {both['agree']:.3f})")


if __name__ == "__main__":
    main()
