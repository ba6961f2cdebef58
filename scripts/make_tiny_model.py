"""Build the tiny offline model: `python scripts/make_tiny_model.py --out runs/tiny-model [--seed 0] [--d-model 64 ...]`.

A byte-level BPE tokenizer trained on this machine's Python standard library and a random-weight LLaDA-architecture
model, saved so that AutoModel / AutoTokenizer.from_pretrained(out) load them with no network.
"""

import argparse
import dataclasses

from data.usage import run_cli
from inference.tiny import TinySizes, build_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    for f in dataclasses.fields(TinySizes):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=f.default)
    args = parser.parse_args()
    sizes = TinySizes(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TinySizes)})
    out = build_tiny(args.out, seed=args.seed, sizes=sizes)
    n_params = sum(p.numel() for p in __import__("transformers").AutoModel.from_pretrained(out).parameters())
    print(f"tiny model written to {out}: {n_params:,} parameters, vocab {sizes.vocab_size}, d_model {sizes.d_model}")


if __name__ == "__main__":
    run_cli(main)
