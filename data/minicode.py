"""minicode: procedurally generated Python function-writing problems in evalplus's schema, small and regular
enough that a ~3M-parameter diffusion LM learns them on a CPU in minutes.

    python -m data.minicode --split eval --num 200 --seed 0 --out eval.jsonl [--families affine,rle]

Each family (data/minicode_families.py, minicode_lists.py, minicode_text.py) draws a function name, argument names, constants
(written identically in docstring and code, e.g. "Return 7 * n + 19." / `return 7 * n + 19`), operator choices and a
docstring phrasing. Rows carry task_id, prompt (signature + docstring), canonical_solution (the body), entry_point,
base_input (>= 10 argument lists, edge cases first), plus_input ([]), atol (0), and family, split and
expected_output (the canonical solution's return values, computed here in-process: trusted generated code).

Splits cannot leak. A problem's split is a pure function of its key (family, constants): sha256 of the key, bucketed
into eval (15%), rl (15%) and train (70%). Generation draws candidates and keeps those whose bucket is the requested
split, so the (family, constants) of an eval problem from any seed never occur in train or rl from any seed (names
and phrasings are shared; the constants are what a model must copy). Every family has enough constant combinations
that each split holds several of them (tests/data/test_minicode.py checks it).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import statistics
import sys
from collections import Counter
from collections.abc import Sequence

from data import minicode_families as nf
from data import minicode_lists as lf
from data import minicode_text as tf
from data.minicode_families import Spec

SPLITS = ("train", "rl", "eval")
SPLIT_PERCENT = {"eval": 15, "rl": 15}  # the rest is train
NUM_INPUTS = 12
MIN_INPUTS = 10

FAMILIES = {
    # arithmetic with constants
    "affine": nf.affine, "clamp": nf.clamp, "abs_diff": nf.abs_diff, "quot_rem": nf.quot_rem,
    "digit_sum": nf.digit_sum, "count_divisions": nf.count_divisions, "grow_steps": nf.grow_steps,
    "gcd_with": nf.gcd_with,
    # if / elif / else
    "grade": nf.grade, "compare_to": nf.compare_to, "fizzbuzz": nf.fizzbuzz, "max3": nf.max3,
    # loops with accumulators
    "sum_multiples": nf.sum_multiples, "product_if": nf.product_if, "count_between": nf.count_between,
    "power_sum": nf.power_sum, "rising_steps": nf.rising_steps,
    # early returns
    "first_index": nf.first_index, "any_cmp": nf.any_cmp, "all_remainder": nf.all_remainder,
    "no_divisor": nf.no_divisor,
    # filtered comprehensions
    "filter_div": nf.filter_div, "map_affine": nf.map_affine, "long_words": tf.long_words,
    # nested loops
    "count_pairs": lf.count_pairs, "equal_pairs": lf.equal_pairs, "grid_sum": lf.grid_sum,
    "diagonal": lf.diagonal, "table": lf.table,
    # list operations
    "running": lf.running, "rotate": lf.rotate, "chunk_agg": lf.chunk_agg, "distinct_first": lf.distinct_first,
    "window_max": lf.window_max,
    # string building and slicing
    "repeat_join": tf.repeat_join, "reverse_words": tf.reverse_words, "ensure_affix": tf.ensure_affix,
    "replace_char": tf.replace_char, "case_k": tf.case_k, "every_kth": tf.every_kth, "truncate": tf.truncate,
    "pad": tf.pad, "count_in_set": tf.count_in_set, "count_substring": tf.count_substring,
    # counting with a dict
    "char_counts": tf.char_counts, "most_frequent": tf.most_frequent, "word_lengths": tf.word_lengths,
    "group_by_letter": tf.group_by_letter,
    # small state machines
    "toggle": tf.toggle, "longest_run": tf.longest_run, "rle": tf.rle, "bracket_depth": tf.bracket_depth,
    "walker": tf.walker,
}


def split_of(family: str, constants: tuple) -> str:
    """The split a (family, constants) key belongs to, for every seed (sha256, never hash())."""
    bucket = int.from_bytes(hashlib.sha256(f"{family}|{constants!r}".encode()).digest()[:8], "big") % 100
    if bucket < SPLIT_PERCENT["eval"]:
        return "eval"
    return "rl" if bucket < SPLIT_PERCENT["eval"] + SPLIT_PERCENT["rl"] else "train"


def run_solution(spec: Spec, inputs: list[list]) -> list:
    """The canonical solution's outputs, run in-process (our own generated code, not model output)."""
    namespace: dict = {}
    exec(compile(spec.prompt + spec.solution, f"<minicode:{spec.family}>", "exec"), namespace)
    fn = namespace[spec.name]
    return [fn(*copy.deepcopy(args)) for args in inputs]


def to_row(spec: Spec, split: str, task_id: str, rng: random.Random) -> dict:
    for _ in range(5):  # tests whose outputs are all equal cannot tell a solution from a constant: draw again
        inputs = spec.inputs(rng, NUM_INPUTS)
        if len(inputs) < MIN_INPUTS:
            raise RuntimeError(f"family {spec.family}: only {len(inputs)} distinct inputs")
        outputs = run_solution(spec, inputs)
        if len({json.dumps(o) for o in outputs}) > 1:
            break
    if json.loads(json.dumps(outputs)) != outputs:  # tuples, int dict keys or NaN would not survive JSON
        raise RuntimeError(f"family {spec.family}: outputs do not round-trip through JSON: {outputs!r}")
    return {"task_id": task_id, "prompt": spec.prompt, "canonical_solution": spec.solution,
            "entry_point": spec.name, "base_input": inputs, "plus_input": [], "atol": 0,
            "family": spec.family, "split": split, "expected_output": outputs}


def generate_specs(split: str, num: int, seed: int, families: Sequence[str] | None = None,
                   max_tries: int = 2000) -> list[Spec]:
    """`num` distinct specs of `split`, families (default: all) in a shuffled cycle; deterministic by the arguments."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    rng = random.Random(f"minicode:{split}:{seed}")
    unknown = sorted(set(families or ()) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown families {', '.join(unknown)}")
    order = sorted(set(families or FAMILIES))
    rng.shuffle(order)
    seen: set = set()
    specs: list[Spec] = []
    exhausted: set[str] = set()
    i = 0
    while len(specs) < num:
        if len(exhausted) == len(order):
            raise RuntimeError(f"could only draw {len(specs)} distinct {split} problems")
        family = order[i % len(order)]
        i += 1
        if family in exhausted:
            continue
        for _ in range(max_tries):
            spec = FAMILIES[family](rng)
            key = (family, spec.constants, spec.name, spec.args)
            if key not in seen and split_of(family, spec.constants) == split:
                seen.add(key)
                specs.append(spec)
                break
        else:
            exhausted.add(family)
    return specs


def generate_problems(split: str, num: int, seed: int, families: Sequence[str] | None = None) -> list[dict]:
    """evalplus-schema rows (plus family, split, expected_output); task_id minicode/{split}/{seed}/{i}."""
    specs = generate_specs(split, num, seed, families)
    rng = random.Random(f"minicode-inputs:{split}:{seed}")
    return [to_row(spec, split, f"minicode/{split}/{seed}/{i}", rng) for i, spec in enumerate(specs)]


def assert_tests(row: dict) -> list[str]:
    """The row's tests as assert statements on the canonical solution's outputs (RL rewards, synthesis filters)."""
    return [f"assert {row['entry_point']}({', '.join(map(repr, args))}) == {out!r}"
            for args, out in zip(row["base_input"] + row["plus_input"], row["expected_output"])]


def training_text(num: int, seed: int, families: Sequence[str] | None = None) -> list[str]:
    """prompt + solution of `num` train problems (e.g. a tokenizer's corpus)."""
    return [spec.prompt + spec.solution for spec in generate_specs("train", num, seed, families)]


def summary(rows: list[dict]) -> str:
    per_family = Counter(r["family"] for r in rows)
    return (f"{len(rows)} problems, {len(per_family)} families ({min(per_family.values())}-"
            f"{max(per_family.values())} each), mean prompt {statistics.mean(len(r['prompt']) for r in rows):.0f} "
            f"chars, mean solution {statistics.mean(len(r['canonical_solution']) for r in rows):.0f} chars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write minicode problems (evalplus schema) as jsonl.")
    parser.add_argument("--split", default="eval", help=f"one of {', '.join(SPLITS)}")
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--families", default="", help="comma list of family names (default: all)")
    parser.add_argument("--asserts", action="store_true",
                        help="add `tests` (assert statements) for repair.synthesize / rl prompts; such a file is "
                             "assert-style for repair.evaluate")
    args = parser.parse_args(argv)
    try:
        rows = generate_problems(args.split, args.num, args.seed, [f for f in args.families.split(",") if f])
    except ValueError as e:
        print(f"minicode: {e}", file=sys.stderr)
        return 2
    if args.asserts:
        rows = [dict(row, tests=assert_tests(row)) for row in rows]
    with open(args.out, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    print(f"minicode {args.split} seed {args.seed} -> {args.out}: {summary(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
