"""Noise-and-resume repair (seed 001, Section 3.2 / Tables 1 and 3): remask part of a broken program, let the
diffusion model denoise it, k samples per noise level.

    python -m repair.resume_repair --model DIR --input broken.jsonl --out OUT.jsonl
        [--noise-levels 0.1,0.2,...,0.9] [--mode uniform|error-region] [--window 1] [--spare-slots 1]
        [--samples 5] [--temperature 1.0] [--steps 32] [--seed 0] [--prompt-template 'Fix...{broken}...']

The test set is the input's syntactically invalid rows only (repair/lastmile.py: rows whose `broken` parses are
dropped and counted; `fixed` and `tests` are used when present). For each, each noise level t and each of k samples:
draw which tokens to remask (a fraction t of the program's tokens, or of the tokens within +-window lines of the
parser's error line with --mode error-region), insert `--spare-slots` masked slots after every remasked run, infill
them at `--temperature` (all other tokens fixed) and decode. Masked diffusion keeps the length fixed: without spare
slots a repair could substitute and delete (a slot filled with EOS vanishes when decoding) but never insert the
missing ':' or ')' of a last-mile error. Each sample draws its own noise positions (CodeFusion's diversity comes from
its noise) and its own sampling noise.

Each candidate is scored as the paper scores repairs (repair/lastmile.py, definitions quoted there): execution match
(parses and passes the row's tests in the sandbox) over the rows with tests, sketch match (parses and equals the
known fixed program up to names and literals) over the rows with `fixed`, and, labelled as the old criterion, BIFI's
last-mile check (parses, 0 < token edit distance <= 4, and the tests when present) over all rows. Per metric, with
n = k samples per level and c_l matches at level l:
- per level: pass@k = 1 - C(n - c_l, k) / C(n, k) (the unbiased estimator), averaged over programs;
- pooled over levels, as the paper's Table 3 (whose pass@1 equals Table 1's any%): k samples at EVERY level, success
  if any succeeds: pass@k = 1 - prod_l C(n - c_l, k) / C(n, k);
- any% = pooled pass@1; best% = the single best global level's pass@1; vote% = the most frequent candidate across
  levels (exact string) matches, one vote per sample index j over the levels' j-th samples, averaged over j.
Writes one row per program and OUT.summary.json (the test-set counts, each metric with its n, the settings).
Resumable: rows are appended as they are made (OUT.settings.json records what made them), and a rerun with the same
settings continues after the last complete row; each row's noise and sampling draws depend only on --seed and its
noise level, so a resumed run writes what an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import torch
from tqdm import tqdm

from data.tokenize import line_token_positions
from data.usage import UsageError, check_options, number_list, run_cli
from repair.lastmile import MAX_EDIT, METRICS, invalid_only, score
from repair.pairs import read_pairs
from repair.run_files import open_run, read_rows

KS = (1, 3, 5)  # the paper's pass@1 / @3 / @5
# what decides a row's content: a rerun continues an OUT only when these are unchanged
RESULT_KEYS = ("model", "input", "noise_levels", "mode", "window", "spare_slots", "samples", "temperature", "steps",
               "seed", "limit", "prompt_template")


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


def with_spare_slots(ids: list[int], noised: list[bool], spare: int, mask_id: int) -> tuple[list[int], list[bool]]:
    """Insert `spare` [MASK] slots after every maximal run of noised tokens: (ids, positions to infill)."""
    out_ids, out_pos = [], []
    for i, (tok, m) in enumerate(zip(ids, noised)):
        out_ids.append(tok)
        out_pos.append(m)
        if m and (i + 1 == len(ids) or not noised[i + 1]):
            out_ids += [mask_id] * spare
            out_pos += [True] * spare
    return out_ids, out_pos


def _right_padded(rows: list[tuple[list[int], list[bool]]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """ids, positions, attention_mask [k, L_max] from rows of different lengths (spare slots differ per draw)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id)
    pos = torch.zeros(len(rows), width, dtype=torch.bool)
    att = torch.zeros(len(rows), width, dtype=torch.long)
    for r, (i, p) in enumerate(rows):
        ids[r, : len(i)], pos[r, : len(p)], att[r, : len(i)] = torch.tensor(i), torch.tensor(p), 1
    return ids, pos, att


def repair_one(loaded, broken: str, levels: list[float], args) -> list[list[str]]:
    """candidates[level][sample]: k repairs per noise level, each from its own noise draw, batched per level."""
    from inference.sampler import infill

    enc = loaded.tokenizer(broken, add_special_tokens=False, return_offsets_mapping=True)
    mask_id, pad_id = loaded.adapter.mask_token_id, loaded.adapter.eos_token_id
    # A repair-SFT model (prompt = template with the broken program, completion = the fix) conditions on the
    # template; the noised copy of the program is then its completion. Without a template the program stands alone.
    prefix = (loaded.tokenizer(args.prompt_template.format(broken=broken), add_special_tokens=False)["input_ids"]
              if args.prompt_template else [])
    out = []
    for j, t in enumerate(levels):
        gen = torch.Generator(device="cpu").manual_seed(args.seed * 1009 + j)  # noise positions, on the CPU
        sampling = torch.Generator(device=loaded.device).manual_seed(args.seed * 1009 + j)
        rows = [with_spare_slots(enc["input_ids"], noise_positions(broken, enc["offset_mapping"], t, args.mode,
                                                                   args.window, gen).tolist(), args.spare_slots, mask_id)
                for _ in range(args.samples)]
        rows = [(prefix + ids, [False] * len(prefix) + pos) for ids, pos in rows]
        ids, pos, att = (x.to(loaded.device) for x in _right_padded(rows, pad_id))
        res = infill(loaded.model, ids, pos, steps=min(args.steps, int(pos.sum(1).max())), attention_mask=att,
                     temperature=args.temperature, generator=sampling)
        out.append([loaded.tokenizer.decode(seq[len(prefix):][a[len(prefix):].bool()].tolist(), skip_special_tokens=True)
                    for seq, a in zip(res.sequences, att)])
    return out


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n - c, k) / C(n, k)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _vote(candidates: list[list[str]], success: list[list[bool]], j: int) -> bool:
    """Whether the most frequent of the levels' j-th candidates succeeds (ties: the lowest noise level first)."""
    column = [level[j] for level in candidates]
    winner = Counter(column).most_common(1)[0][0]
    return success[column.index(winner)][j]


def pooled(rows: list[dict], levels: list[float], key: str, ks: tuple[int, ...] = KS) -> dict:
    """Per-level and pooled pass@k, any% / best% / vote% (see the module docstring) of one metric, from rows with
    candidates[level][sample] and row[key][level][sample]; rows where row[key] is None (not scorable) are left out,
    and `programs` counts the rest. Without programs the rates are None, never 0."""
    rows = [r for r in rows if r.get(key) is not None]
    if not rows:
        return {"programs": 0, "samples_per_level": 0, "per_level": {}, "pooled": {}, "any": None, "best": None,
                "best_level": None, "vote": None}
    n_prog, n = len(rows), len(rows[0][key][0])
    ks = tuple(k for k in ks if k <= n)  # pass@k needs k <= n samples
    counts = [[sum(level) for level in r[key]] for r in rows]  # [programs][levels]
    per_level = {str(t): {f"pass@{k}": sum(pass_at_k(n, c[j], k) for c in counts) / n_prog for k in ks}
                 for j, t in enumerate(levels)}
    pass_k = {f"pass@{k}": sum(1.0 - math.prod(math.comb(n - cl, k) / math.comb(n, k) for cl in c)
                               for c in counts) / n_prog for k in ks}
    votes = [sum(_vote(r["candidates"], r[key], j) for j in range(n)) / max(n, 1) for r in rows]
    best_level = max(per_level, key=lambda t: per_level[t]["pass@1"]) if per_level and 1 in ks else None
    return {
        "programs": n_prog, "samples_per_level": n, "per_level": per_level, "pooled": pass_k,
        "any": pass_k.get("pass@1", 0.0),
        "best": per_level[best_level]["pass@1"] if best_level else 0.0, "best_level": best_level,
        "vote": sum(votes) / n_prog,
    }


LABELS = {"execution_match": "execution match (parses, passes the tests)",
          "sketch_match": "sketch match (= fixed up to names and literals)",
          "last_mile_old": f"old last-mile criterion (BIFI: parses, 0 < token edit distance <= {MAX_EDIT}, tests)"}


def _print(summary: dict) -> None:
    t = summary["test_set"]
    print(f"test set: {t['programs']} syntactically invalid programs of {t['input_rows']} rows "
          f"({t['dropped_parseable']} dropped: they parse); {t['no_tests']} without tests (no execution match), "
          f"{t['no_fixed']} without a fixed program that parses (no sketch match)")
    for metric in METRICS:
        m = summary[metric]
        if not m["programs"]:
            print(f"{LABELS[metric]}: no program to score")
            continue
        levels = list(m["per_level"])
        print(f"{LABELS[metric]}, {m['programs']} programs, {m['samples_per_level']} samples per level")
        print("  noise level   " + "  ".join(f"{lv:>5}" for lv in levels))
        for key in m["pooled"]:
            print(f"  {key:<8} %    " + "  ".join(f"{100 * m['per_level'][lv][key]:>5.1f}" for lv in levels))
        print(f"  pooled over levels: any {100 * m['any']:.1f}%  best {100 * m['best']:.1f}% "
              f"(t = {m['best_level']})  vote {100 * m['vote']:.1f}%  | "
              + "  ".join(f"{k} {100 * v:.1f}%" for k, v in m["pooled"].items()))


def noise_levels(args) -> list[float]:
    check_options(args, positive=("steps", "limit"), non_negative=("window",))
    levels = number_list(args.noise_levels, "--noise-levels", float)
    if not all(0 < t <= 1 for t in levels):
        raise UsageError(f"--noise-levels are fractions of the tokens, each in (0, 1]; got {args.noise_levels}")
    return levels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True, help="jsonl rows with `broken` (+ `fixed`, `tests` when known)")
    p.add_argument("--out", required=True)
    p.add_argument("--noise-levels", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    p.add_argument("--mode", choices=["uniform", "error-region"], default="uniform")
    p.add_argument("--window", type=int, default=1)
    p.add_argument("--spare-slots", type=int, default=1, help="masked slots inserted after each remasked run")
    p.add_argument("--samples", type=int, default=5, help="k samples per noise level (pass@1/3/5 need 5)")
    p.add_argument("--temperature", type=float, default=1.0, help="> 0: samples differ (1.0: the model's own law)")
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="only the first N input rows (before the filter)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--prompt-template", default="",
                   help="condition on this prompt ({broken} = the program), as a repair-SFT model was trained")
    return p.parse_args(argv)


def repair_row(loaded, row: dict, levels: list[float], args) -> dict:
    """One test-set row -> its candidates[level][sample] and, per metric, matches[level][sample] (None: unscorable)."""
    candidates = repair_one(loaded, row["broken"], levels, args)
    scores = score(row["broken"], [c for level in candidates for c in level], row.get("fixed"), row.get("tests"))
    k = args.samples
    out = {"broken": row["broken"], "fixed": row.get("fixed"), "candidates": candidates}
    for metric, flat in scores.items():
        out[metric] = None if flat is None else [flat[i * k : (i + 1) * k] for i in range(len(levels))]
    return out


def rows_done(out: Path, settings: dict, test_set: list[dict]) -> list[dict]:
    """The complete rows an earlier run with these settings left in OUT (a rerun continues after them); OUT made
    with other settings, or from other programs, is a UsageError and stays as it is."""
    rows = read_rows(out, key=None)
    if not rows:
        return []
    settings_path = Path(str(out) + ".settings.json")
    old = json.loads(settings_path.read_text()) if settings_path.exists() else None
    if old != settings:
        diff = {k: ((old or {}).get(k), v) for k, v in settings.items() if (old or {}).get(k) != v}
        raise UsageError(f"{out} holds rows made with other settings {diff} (from {settings_path}); "
                         "use another --out, or remove it to start over")
    if len(rows) > len(test_set) or any(r["broken"] != t["broken"] for r, t in zip(rows, test_set)):
        raise UsageError(f"{out} holds rows of other broken programs than {settings['input']}'s invalid ones "
                         "(the input changed); use another --out, or remove it to start over")
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from inference.loading import load_model

    levels = noise_levels(args)
    inputs = read_pairs(args.input, ("broken",), "input file")[: args.limit]  # bad input stops before the model loads
    test_set, counts = invalid_only(inputs)
    out = Path(args.out)
    settings = {k: getattr(args, k) for k in RESULT_KEYS}
    rows = rows_done(out, settings, test_set)  # before the model loads: a mismatch costs nothing
    loaded = load_model(args.model, device=args.device)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".settings.json").write_text(json.dumps(settings, indent=2))
    with open_run(out) as f:  # a torn last row (a kill mid-write) is cut off and redone
        if not rows:
            f.truncate(0)  # no complete row: start over
        for row in tqdm(test_set[len(rows):], desc="resume-repair", initial=len(rows), total=len(test_set)):
            rows.append(repair_row(loaded, row, levels, args))
            f.write(json.dumps(rows[-1]) + "\n")
            f.flush()
    summary = {"test_set": counts, "programs": len(rows), "noise_levels": levels,
               **{metric: pooled(rows, levels, metric) for metric in METRICS}}
    summary["settings"] = {**settings, "max_edit_old_criterion": MAX_EDIT}
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=2))
    _print(summary)
    return summary


if __name__ == "__main__":
    run_cli(main)
