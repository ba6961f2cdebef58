"""Build the tiny offline model: `python scripts/make_tiny_model.py --out runs/tiny-model [--seed 0] [--d-model 64 ...]`.

A byte-level BPE tokenizer trained on this machine's Python standard library and a random-weight LLaDA-architecture
model, saved so that AutoModel / AutoTokenizer.from_pretrained(out) load them with no network.
`--arch dream` builds a Dream-architecture model instead (inference/tiny_dream.py: mask token <|mask|>, GQA).
"""

import argparse
import dataclasses

from inference.tiny import TinySizes, build_tiny
from inference.tiny_dream import build_tiny_dream

BUILDERS = {"llada": build_tiny, "dream": build_tiny_dream}  # --arch: LLaDA, or Dream (mask token <|mask|>)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arch", choices=sorted(BUILDERS), default="llada")
    for f in dataclasses.fields(TinySizes):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=f.default)
    args = parser.parse_args()
    sizes = TinySizes(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TinySizes)})
    out = BUILDERS[args.arch](args.out, seed=args.seed, sizes=sizes)
    n_params = sum(p.numel() for p in __import__("transformers").AutoModel.from_pretrained(out).parameters())
    print(f"tiny {args.arch} model written to {out}: {n_params:,} parameters, vocab {sizes.vocab_size}, d_model {sizes.d_model}")


if __name__ == "__main__":
    main()
