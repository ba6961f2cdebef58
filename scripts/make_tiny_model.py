"""Build an offline model: `python scripts/make_tiny_model.py --out runs/tiny-model [--preset tiny|small] [--seed 0]
[--d-model 64 ...]`.

A byte-level BPE tokenizer trained on this machine's Python standard library (the `small` preset: digits split and
minicode text added) and a random-weight LLaDA-architecture model, saved so that AutoModel / AutoTokenizer
.from_pretrained(out) load them with no network. Size flags override the preset.
`--arch dream` builds a Dream-architecture model instead (inference/tiny_dream.py: mask token <|mask|>, GQA).
"""

import argparse
import dataclasses

from data.usage import run_cli
from inference.tiny import PRESETS, build_tiny
from inference.tiny_dream import build_tiny_dream

BUILDERS = {"llada": build_tiny, "dream": build_tiny_dream}  # --arch: LLaDA, or Dream (mask token <|mask|>)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arch", choices=sorted(BUILDERS), default="llada")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    for f in dataclasses.fields(PRESETS["tiny"]):
        kind = (lambda v: str(v).lower() in ("1", "true", "yes")) if f.type in (bool, "bool") else int
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None)
    args = parser.parse_args()
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(PRESETS["tiny"])
                 if getattr(args, f.name) is not None}
    sizes = dataclasses.replace(PRESETS[args.preset], **overrides)
    out = BUILDERS[args.arch](args.out, seed=args.seed, sizes=sizes)
    n_params = sum(p.numel() for p in __import__("transformers").AutoModel.from_pretrained(out).parameters())
    print(f"{args.arch} model written to {out}: {n_params:,} parameters ({args.preset} preset), vocab "
          f"{sizes.vocab_size}, d_model {sizes.d_model}, {sizes.n_layers} layers")


if __name__ == "__main__":
    run_cli(main)
