"""Noise-and-resume repair: remask part of a broken program and let the diffusion model denoise it.

    python -m repair.resume_repair --model DIR --input broken.jsonl --out OUT.jsonl
        [--noise-levels 0.1,0.2,...,0.9] [--mode uniform|error-region] [--window 1] [--steps 32] [--seed 0]

For each broken program (input rows need `broken`; `tests` are used when present) and each noise level t: mask a
fraction t of its tokens (uniform), or of the tokens within +-window lines of the parser's error line
(error-region; uniform when it parses), infill them (temperature 0, all other tokens fixed) and decode. A candidate
succeeds by the last-mile criterion (BIFI): it parses and 0 < token edit distance(broken, candidate) <= 4, and passes
the row's tests when it has any. Pooled over levels: any% (some level succeeds), best% (the single best level),
vote% (the most frequent candidate across levels succeeds). Writes one row per program and OUT.summary.json.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch
from tqdm import tqdm

from data.tokenize import line_token_positions
from data.usage import UsageError, check_options, number_list, run_cli
from repair.pairs import parse_error, read_pairs, token_edit_distance

MAX_EDIT = 4


def error_line(code: str) -> int | None:
    try:
        compile(code, "<broken>", "exec")
        return None
    except SyntaxError as e:
        return e.lineno


def noise_positions(code: str, offsets: list[tuple[int, int]], t: float, mode: str, window: int,
                    generator: torch.Generator) -> torch.Tensor:
    """[n] bool: which of the program's tokens to remask."""
    n = len(offsets)
    pool = list(range(n))
    line = error_line(code) if mode == "error-region" else None
    if line is not None:
        pool = line_token_positions(offsets, code, set(range(line - window, line + window + 1))) or pool
    k = max(1, round(t * len(pool)))
    chosen = torch.tensor(pool)[torch.randperm(len(pool), generator=generator)[:k]]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[chosen] = True
    return mask


def success(broken: str, candidate: str, tests: list[str] | None) -> bool:
    if parse_error(candidate) is not None or not 0 < token_edit_distance(broken, candidate) <= MAX_EDIT:
        return False
    if tests:
        from repair.execution.scoring import pass_fractions

        return pass_fractions([candidate], [tests], 2.0, 10.0, 1)[0] == 1.0
    return True


def repair_one(loaded, broken: str, levels: list[float], args) -> list[str]:
    from inference.sampler import infill

    enc = loaded.tokenizer(broken, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([enc["input_ids"]], device=loaded.device)
    out = []
    for j, t in enumerate(levels):
        gen = torch.Generator().manual_seed(args.seed * 1009 + j)
        positions = noise_positions(broken, enc["offset_mapping"], t, args.mode, args.window, gen)[None]
        res = infill(loaded.model, ids, positions.to(loaded.device), steps=min(args.steps, int(positions.sum())),
                     temperature=0.0)
        out.append(loaded.tokenizer.decode(res.sequences[0].tolist(), skip_special_tokens=True))
    return out


def pooled(rows: list[dict], levels: list[float]) -> dict:
    per_level = [sum(r["success"][j] for r in rows) / max(len(rows), 1) for j in range(len(levels))]
    return {
        "programs": len(rows),
        "per_level": dict(zip(map(str, levels), per_level)),
        "any": sum(any(r["success"]) for r in rows) / max(len(rows), 1),
        "best": max(per_level) if per_level else 0.0,
        "vote": sum(r["vote_success"] for r in rows) / max(len(rows), 1),
    }


def noise_levels(args) -> list[float]:
    check_options(args, positive=("steps", "limit"), non_negative=("window",))
    levels = number_list(args.noise_levels, "--noise-levels", float)
    if not all(0 < t <= 1 for t in levels):
        raise UsageError(f"--noise-levels are fractions of the tokens, each in (0, 1]; got {args.noise_levels}")
    return levels


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--noise-levels", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    p.add_argument("--mode", choices=["uniform", "error-region"], default="uniform")
    p.add_argument("--window", type=int, default=1)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    from inference.loading import load_model

    levels = noise_levels(args)
    inputs = read_pairs(args.input, ("broken",), "input file")[: args.limit]  # bad input stops before the model loads
    loaded = load_model(args.model, device=args.device)
    rows = []
    for row in tqdm(inputs, desc="resume-repair"):
        candidates = repair_one(loaded, row["broken"], levels, args)
        ok = [success(row["broken"], c, row.get("tests")) for c in candidates]
        vote = Counter(candidates).most_common(1)[0][0]
        rows.append({"broken": row["broken"], "candidates": candidates, "success": ok,
                     "vote_success": ok[candidates.index(vote)]})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = pooled(rows, levels)
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=2))
    print("noise level  " + "  ".join(f"{t:>5}" for t in summary["per_level"]))
    print("repaired %   " + "  ".join(f"{100 * v:>5.1f}" for v in summary["per_level"].values()))
    print(f"pooled: any {100 * summary['any']:.1f}%  best {100 * summary['best']:.1f}%  vote {100 * summary['vote']:.1f}% "
          f"of {summary['programs']} programs (last-mile: parses, 0 < token edit distance <= {MAX_EDIT})")
    return summary


if __name__ == "__main__":
    run_cli(main)
