"""Build a random-weight model from a Hub config.json with a local tokenizer (no download):
`python scripts/make_random_model.py --config configs/models/llada-8b-instruct.config.json --out DIR [--device cuda]`.

The GPU smoke test's stand-in for the real checkpoint (inference/random_weights.py): same config.json fields, so the
same shapes, memory and FLOPs; bf16 random weights; a small local BPE laid out as the family's Hub tokenizer, padded
so its special tokens sit at the config's ids. `--shrink` narrows it to one small layer (vocabulary and special ids
unchanged) for the CPU check of the smoke test's wiring.
"""

import argparse

import torch

from data.usage import UsageError, run_cli
from inference.random_weights import build_random_model

# --shrink: the smallest model of each family's layout that the whole pipeline still exercises (GQA for Dream).
SHRINK = {
    "llada": dict(d_model=64, n_heads=4, n_kv_heads=4, n_layers=1, mlp_hidden_size=128, max_sequence_length=1024),
    "Dream": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=1,
                  intermediate_size=128),
}
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a Hub config.json (configs/models/*.config.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu", help="where the weights are initialised (cuda: seconds for 8B)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    p.add_argument("--shrink", action="store_true", help="one small layer, same vocabulary (CPU checks)")
    p.add_argument("--bpe-vocab", type=int, default=4096)
    p.add_argument("--corpus-chars", type=int, default=2_000_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    import json
    from pathlib import Path

    if not Path(args.config).is_file():
        raise UsageError(f"--config {args.config}: no such file (the shipped ones are configs/models/*.config.json)")
    model_type = json.loads(Path(args.config).read_text()).get("model_type")
    overrides = SHRINK.get(model_type) if args.shrink else None
    out = build_random_model(args.config, args.out, DTYPES[args.dtype], args.device, overrides, args.seed,
                             args.bpe_vocab, args.corpus_chars)
    print(f"random-weight {model_type} model ({args.dtype}{', shrunk' if args.shrink else ''}) written to {out}")


if __name__ == "__main__":
    run_cli(main)
