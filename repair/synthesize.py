"""Repair-pair synthesis from diffusion trajectories (CodeFusion's generator, mapped onto masked diffusion).

    python -m repair.synthesize --model DIR --out OUT.jsonl [--prompts embedded|tiny|PATH.jsonl] [--num-samples N]
        [--t-sampling uniform] [--last-mile] [--max-edit-distance 4] [--seed 0] [--gen-length 64] [--steps 32]

For each sample: generate with the trajectory recorded; pick a step t uniformly; decode the intermediate state into a
concrete program c_t by filling its still-masked positions with the model's argmax prediction at that step (the
discrete analogue of decoding CodeFusion's intermediate latent), pair it with the final program c_0, filter and
deduplicate. Programs are prompt + completion (cut at the first stop or pad token of the model's adapter). Filters (repair/pairs.py): always c_t != c_0
and no duplicates; the paper's quality filters are opt-in, because a random tiny model never writes a correct program:
--require-fixed-parses (c_0 parses) and --check-tests (c_0 passes the prompt's tests when it has any; the `tiny`
prompts do). Use both with a real model. --last-mile keeps only c_t that fail to parse within --max-edit-distance. Rows are appended as they are made, and a rerun with the same
seed skips the samples already done (resumable). Writes OUT (jsonl, `datasets.load_dataset("json", ...)` reads it;
each row carries its prompt's `tests`, null without, for repair.resume_repair's execution match) and OUT.stats.json,
and prints the statistics table.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path

import torch
from tqdm import tqdm

from data.jsonl import read_jsonl
from data.usage import UsageError, check_options, run_cli
from repair.pairs import PairFilter, keep, make_pair, pair_statistics, read_pairs


def load_prompts(source: str) -> list[dict]:
    """[{id, prompt, tests}]: the embedded corpus, the tiny problem set, or a jsonl with prompt (+ tests)."""
    if source == "tiny":
        from data.tiny_problems import TINY_PROBLEMS

        return [{"id": p["task_id"], "prompt": p["prompt"], "tests": p["tests"]} for p in TINY_PROBLEMS]
    if source == "embedded":
        from data.local_corpus import build_local_corpus

        return [{"id": e.source, "prompt": e.prompt, "tests": None} for e in build_local_corpus(max_examples=500)]
    rows = read_jsonl(source, "prompts file (--prompts: embedded, tiny or a .jsonl path)", required=("prompt",)).rows
    return [{"id": r.get("task_id", str(i)), "prompt": r["prompt"], "tests": r.get("tests")} for i, r in enumerate(rows)]


def decode_completion(tokenizer, ids: torch.Tensor, end_ids: tuple[int, ...], mask_id: int) -> str:
    """Completion text up to the first end id (stop or pad); a [MASK] left here would be a bug in the caller."""
    ids = ids.tolist()
    ids = ids[: next((i for i, t in enumerate(ids) if t in end_ids), len(ids))]
    assert mask_id not in ids, "intermediate states must be decoded without masks"
    return tokenizer.decode(ids, skip_special_tokens=True)


def states(out, prompt_len: int) -> list[torch.Tensor]:
    """Concrete completion ids after each step: still-masked positions filled by that step's argmax prediction."""
    return [pred[0, prompt_len:] for pred in out.trajectory_predictions]


def passes_tests(program: str, tests: list[str] | None) -> bool | None:
    if not tests:
        return None
    from repair.execution.scoring import pass_fractions

    return pass_fractions([program], [tests], 2.0, 10.0, 1)[0] == 1.0


def synthesize_one(loaded, row: dict, sample: int, args, filt: PairFilter) -> tuple[object, str | None]:
    """One generation -> (pair, drop reason or None)."""
    from inference.sampler import generate

    tok, adapter = loaded.tokenizer, loaded.adapter
    gen = torch.Generator(device=loaded.device).manual_seed(args.seed * 1_000_003 + sample)  # the sampler draws there
    ids = torch.tensor([tok(row["prompt"], add_special_tokens=False)["input_ids"]], device=loaded.device)
    out = generate(loaded.model, ids, steps=args.steps, gen_length=args.gen_length, block_length=args.block_length,
                   temperature=args.temperature, generator=gen, return_trajectory=True)
    trajectory = states(out, ids.shape[1])
    step = random.Random(args.seed * 7919 + sample).randrange(len(trajectory) - 1)  # uniform over t < T_final
    end_ids = adapter.end_ids(tok)
    decode = lambda x: row["prompt"] + decode_completion(tok, x, end_ids, adapter.mask_token_id)  # noqa: E731
    fixed = decode(out.sequences[0, ids.shape[1] :])
    pair = make_pair(decode(trajectory[step]), fixed, (step + 1) / len(trajectory),
                     {"prompt_id": row["id"], "seed": args.seed, "sample": sample, "step": step + 1,
                      "steps": len(trajectory), "model": str(args.model)}, row["tests"])
    reason = keep(pair, filt)
    if reason is None and args.check_tests:
        reason = keep(pair, filt, passes_tests(fixed, row["tests"]))
    return pair, reason


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--prompts", default="tiny")
    p.add_argument("--num-samples", type=int, default=64)
    p.add_argument("--t-sampling", choices=["uniform"], default="uniform")
    p.add_argument("--last-mile", action="store_true")
    p.add_argument("--max-edit-distance", type=int, default=4)
    p.add_argument("--require-fixed-parses", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--check-tests", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gen-length", type=int, default=64)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from inference.loading import load_model
    from inference.sampler import fit_block_schedule

    check_options(args, positive=("num_samples", "max_edit_distance"))
    if args.steps < 2:
        raise UsageError(f"--steps must be >= 2 (a pair needs an intermediate state), got {args.steps}")
    args.block_length = fit_block_schedule(args.gen_length, args.block_length, args.steps,
                                           ("--gen-length", "--block-length", "--steps"))
    prompts = load_prompts(args.prompts)  # a bad prompts file stops here, before the model loads
    loaded = load_model(args.model, device=args.device)
    filt = PairFilter(args.require_fixed_parses, args.last_mile, args.max_edit_distance)
    out, done_path = Path(args.out), Path(str(args.out) + ".done.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch()  # zero kept pairs is a result: the file exists (empty), so what reads it next says so
    done = {(r["seed"], r["sample"]) for r in read_pairs(done_path)} if done_path.exists() else set()
    seen = {(r["broken"], r["fixed"]) for r in read_pairs(out)} if out.exists() else set()
    dropped: Counter = Counter()
    t0 = time.perf_counter()
    for sample in tqdm(range(args.num_samples), desc="synthesize"):
        if (args.seed, sample) in done:
            continue
        pair, reason = synthesize_one(loaded, prompts[sample % len(prompts)], sample, args, filt)
        if reason is None and (pair.broken, pair.fixed) in seen:
            reason = "duplicate"
        if reason is None:
            seen.add((pair.broken, pair.fixed))
            with out.open("a") as f:
                f.write(pair.to_json() + "\n")
        dropped[reason or "kept"] += 1
        with done_path.open("a") as f:  # written after the pair: a crash can only redo a sample, never skip one
            f.write(json.dumps({"seed": args.seed, "sample": sample, "result": reason or "kept"}) + "\n")
    stats = pair_statistics(read_pairs(out))
    stats["this_run"] = dict(dropped)
    stats["this_run_seconds"] = round(time.perf_counter() - t0, 3)  # the samples alone (model loading not counted)
    Path(str(out) + ".stats.json").write_text(json.dumps(stats, indent=2))
    print(f"{stats['pairs']} pairs in {out}; this run: {dict(dropped)}")
    print(json.dumps({k: v for k, v in stats.items() if k != "errors"}))
    return stats


if __name__ == "__main__":
    run_cli(main)
