"""Rule-based corruption baseline (BIFI-like): real code -> (broken, fixed) pairs in the synthesis schema.

    python -m repair.corrupt --input embedded|PATH.jsonl --out OUT.jsonl [--num-samples 200] [--seed 0]

Each pair applies one random rule to a program that parses: delete or duplicate a bracket, drop a colon, mis-indent
a line, swap an operator, rename a variable use. Deterministic for a seed. Input jsonl rows need a `code` or `fixed`
field (or prompt + canonical_solution, as problem files have); "embedded" uses the local-corpus functions (prompt + completion).
A row's `tests` (problem files written with --asserts have them) travel with its pairs, for repair.resume_repair's
execution match.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from data.usage import UsageError, check_options, run_cli
from repair.pairs import make_pair, parse_error, read_pairs

_BRACKETS = "()[]{}"
_OPERATORS = {"+": "-", "-": "+", "<": ">", ">": "<", "==": "!=", "!=": "==", "*": "/", "and": "or", "or": "and"}
_OP_RE = re.compile(r"==|!=|(?<![<>=!])[<>](?!=)|(?<=\s)[+\-*](?=\s)|\band\b|\bor\b")
_NAME_RE = re.compile(r"\b[a-z_][a-z0-9_]*\b")
_KEYWORDS = set(__import__("keyword").kwlist) | {"self", "print", "len", "range"}


def _positions(code: str, chars: str) -> list[int]:
    return [i for i, c in enumerate(code) if c in chars]


def delete_bracket(code: str, rng: random.Random) -> str | None:
    pos = _positions(code, _BRACKETS)
    if not pos:
        return None
    i = rng.choice(pos)
    return code[:i] + code[i + 1 :]


def duplicate_bracket(code: str, rng: random.Random) -> str | None:
    pos = _positions(code, _BRACKETS)
    if not pos:
        return None
    i = rng.choice(pos)
    return code[: i + 1] + code[i] + code[i + 1 :]


def drop_colon(code: str, rng: random.Random) -> str | None:
    pos = [m.start() for m in re.finditer(r":[ \t]*(?:#.*)?$", code, re.MULTILINE)]
    if not pos:
        return None
    i = rng.choice(pos)
    return code[:i] + code[i + 1 :]


def misindent(code: str, rng: random.Random) -> str | None:
    lines = code.split("\n")
    body = [k for k, line in enumerate(lines) if line.startswith(" ") and line.strip()]
    if not body:
        return None
    k = rng.choice(body)
    lines[k] = (" " * rng.choice([1, 2, 3, 5])) + lines[k]
    return "\n".join(lines)


def swap_operator(code: str, rng: random.Random) -> str | None:
    matches = list(_OP_RE.finditer(code))
    if not matches:
        return None
    m = rng.choice(matches)
    return code[: m.start()] + _OPERATORS[m.group()] + code[m.end() :]


def rename_variable(code: str, rng: random.Random) -> str | None:
    uses = [m for m in _NAME_RE.finditer(code) if m.group() not in _KEYWORDS]
    if not uses:
        return None
    m = rng.choice(uses)
    return code[: m.start()] + m.group() + rng.choice(["1", "_", "x", "s"]) + code[m.end() :]


RULES: dict[str, Callable[[str, random.Random], str | None]] = {
    "delete_bracket": delete_bracket, "duplicate_bracket": duplicate_bracket, "drop_colon": drop_colon,
    "misindent": misindent, "swap_operator": swap_operator, "rename_variable": rename_variable,
}


def load_programs(source: str) -> list[tuple[str, list[str] | None]]:
    """(program, its tests or None) for each input program that parses."""
    if source == "embedded":
        from data.local_corpus import build_local_corpus

        programs = [(e.prompt + e.completion, None) for e in build_local_corpus(max_examples=2000, max_chars=1500)]
    else:
        # pair files (fixed), code files (code), or problem files: prompt + canonical_solution (e.g. data.minicode)
        programs = [(r.get("code") or r.get("fixed") or (r.get("prompt", "") + r.get("canonical_solution", "")),
                     r.get("tests") or None)
                    for r in read_pairs(source, (("code", "fixed", "canonical_solution"),), "input file")]
    programs = [(p, tests) for p, tests in programs if p and parse_error(p) is None]
    if not programs:
        raise UsageError(f"no program in {source} parses; --input needs real code (a `code` or `fixed` field per row, "
                         "or prompt + canonical_solution)")
    return programs


def corrupt(programs: list[tuple[str, list[str] | None]], num_samples: int, seed: int) -> list:
    rng = random.Random(seed)
    pairs, seen, attempts = [], set(), 0
    with tqdm(total=num_samples, desc="corrupt") as bar:
        while len(pairs) < num_samples and attempts < 20 * num_samples:
            attempts += 1
            (fixed, tests), rule = rng.choice(programs), rng.choice(sorted(RULES))
            broken = RULES[rule](fixed, rng)
            if broken is None or broken == fixed or (broken, fixed) in seen:
                continue
            seen.add((broken, fixed))
            pairs.append(make_pair(broken, fixed, None, {"rule": rule, "seed": seed}, tests))
            bar.update(1)
    return pairs


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="embedded")
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    check_options(args, positive=("num_samples",))
    pairs = corrupt(load_programs(args.input), args.num_samples, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(p.to_json() + "\n" for p in pairs))
    print(f"wrote {len(pairs)} rule-based pairs to {out}")
    return out


if __name__ == "__main__":
    run_cli(main)
