"""Does length grouping change what LLaDA's EOS padding teaches? Train the same tiny SFT three ways, probe stopping.

    OMP_NUM_THREADS=1 python scripts/bench/sft_grouping_eos.py [--model DIR] [--steps 60] [--min-eos 16] [--tail 48]

Three 1-rank runs of train/sft.py from the same base and seed on the embedded data (450 rows of 18-253 tokens,
max_length 256, micro-batch 8, LLaDA EOS padding, uniform masker, lr 2e-3): shuffled, length-grouped
(group_bucket_batches 8), and length-grouped with min_eos. Supervised EOS targets per row are counted over the
batches each run trained on. The probe, on 64 rows (prompt kept, everything after it predicted):
- "after the answer": the answer and its EOS visible, `tail` more positions masked, as when a fixed-length
  generation has finished its answer: mean P(EOS) at the masked tail (1 = the model fills the rest with EOS);
- "from scratch": answer and tail all masked, as at the first step of generation: mean P(EOS) at the positions
  past the true answer and at the true answer's positions (the model must guess where the answer ends).

Measured so far (--steps 40, 2 shared cores): inconclusive. The shuffled run (110 supervised EOS per row) left
P(EOS) at 0.0007 after the answer, past it and inside it alike, the level of the untrained model: 40 LoRA steps
on the random tiny model learn no stopping at all, so this probe needs a longer run or a real model; the grouped
runs did not finish on the loaded machine. What is certain is the count of EOS targets: over one epoch of these
rows at micro-batch 8, supervised EOS per row are 104 shuffled (67% of all supervised tokens), 13 grouped (21%),
28 grouped with min_eos=16 (36%; padding 10.8% -> 21.2%, vs 50.3% shuffled).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch

VARIANTS = {
    "shuffled": [],
    "grouped": ["group_by_length=true", "group_bucket_batches=8"],
    "grouped+min_eos": ["group_by_length=true", "group_bucket_batches=8", "min_eos={min_eos}"],
}


def eos_targets_per_row(cfg, rows, eos: int) -> float:
    """Mean supervised EOS per row over the micro-batches the run trained on."""
    from train import sft

    order, per_step = sft.sample_order(cfg, rows), cfg.micro_batch_size * cfg.grad_accum
    eos_total = 0
    for step in range(cfg.max_steps):
        for b in sft.micro_batches(cfg, rows, order, step * per_step, eos):
            eos_total += int(((b["input_ids"] == eos) & b["maskable"]).sum())
    return eos_total / (cfg.max_steps * per_step)


@torch.no_grad()
def probe(model, adapter, rows, eos: int, tail: int) -> dict[str, float]:
    from inference.adapters import token_logits

    mask_id = adapter.mask_token_id
    after, past, inside = [], [], []
    for r in rows:
        ids = torch.tensor(r["input_ids"] + [eos] * tail)  # [L + tail]; rows end in their own EOS
        n, p = len(r["input_ids"]), r["prompt_len"]
        x = ids.clone()
        x[n:] = mask_id
        probs = token_logits(model, x[None], None, adapter)[0].softmax(-1)[:, eos]  # [L + tail]
        after.append(probs[n:].mean())
        x[p:] = mask_id
        probs = token_logits(model, x[None], None, adapter)[0].softmax(-1)[:, eos]
        past.append(probs[n:].mean())
        inside.append(probs[p : n - 1].mean())
    mean = lambda v: float(torch.stack(v).mean())  # noqa: E731
    return {"after": mean(after), "past": mean(past), "inside": mean(inside)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--min-eos", type=int, default=16)
    parser.add_argument("--tail", type=int, default=48)
    args = parser.parse_args()
    from inference.loading import load_model
    from inference.tiny import model_dir_or_tiny
    from train import sft
    from train.config import load_config
    from train.sft_data import load_sft_rows

    model_dir = model_dir_or_tiny(args.model)
    work = Path(tempfile.mkdtemp(prefix="eos-"))
    results = {}
    for name, extra in VARIANTS.items():
        cfg = load_config(sft.Config, ["--config", "configs/sft/tiny.yaml", f"model={model_dir}",
                                       f"output_dir={work / name}", f"max_steps={args.steps}", "use_wandb=false",
                                       "micro_batch_size=8", "grad_accum=1", "masker=uniform", "log_every=10",
                                       f"save_every={args.steps + 1}", "gradient_checkpointing=false",
                                       *[e.format(min_eos=args.min_eos) for e in extra]])
        if results:  # the same preprocessed rows: reuse the first run's cache
            shutil.copytree(work / next(iter(VARIANTS)) / "data_cache", work / name / "data_cache")
        final = sft.main(cfg)
        loaded = load_model(final / "adapter", device="cpu")
        rows, _ = load_sft_rows(cfg.data, loaded.tokenizer, cfg.max_length, cfg.chat_template, cfg.tiers,
                                work / name / "data_cache")
        eos = loaded.tokenizer.eos_token_id
        probe_rows = [rows[i] for i in range(0, len(rows), len(rows) // 64)][:64]
        results[name] = {"eos_per_row": eos_targets_per_row(cfg, rows, eos),
                         **probe(loaded.model, loaded.adapter, probe_rows, eos, args.tail)}
        print(name, results[name], flush=True)
    base = load_model(model_dir, device="cpu")
    results["base (untrained)"] = {"eos_per_row": float("nan"),
                                   **probe(base.model, base.adapter, probe_rows, eos, args.tail)}

    print(f"\n{args.steps} steps per run, micro-batch 8, min_eos {args.min_eos}, tail {args.tail}, model {model_dir}")
    print(f"{'run':<18} {'EOS targets/row':>16} {'P(EOS) after answer':>20} {'P(EOS) past answer':>19} "
          f"{'P(EOS) inside answer':>21}")
    for name, r in results.items():
        print(f"{name:<18} {r['eos_per_row']:>16.1f} {r['after']:>20.3f} {r['past']:>19.3f} {r['inside']:>21.3f}")


if __name__ == "__main__":
    main()
