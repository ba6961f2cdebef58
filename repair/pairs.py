"""Repair pairs (broken -> fixed): the schema, lexical tokens, edit distances, parse checks, filters and statistics.

Edit distances and statistics are over *lexical* tokens (identifiers, numbers, single punctuation characters,
and each newline together with the next line's indentation, via a regex), so they are defined for broken code that Python's own tokenizer rejects and do not depend on a model's
BPE. Statistics follow the seed paper's data-quality measures:
- diversity, two labelled numbers, each the mean pairwise Jaccard similarity of token 4-gram sets (lower = more
  diverse): of the fixed (correct) programs, what CodeFusion's Figure 7(b) measures ("average n-gram diversity in
  generated correct code"), and of the broken programs;
- complexity: mean token edit distance between broken and fixed;
- localization: per pair the mean distance (in tokens of the fixed program) between consecutive edit positions, 0
  for a pair whose edits sit at one position (a single edit is perfectly local), averaged over the pairs with edits;
- errors: histogram of the parser's messages for the broken programs.
"""

from __future__ import annotations

import ast
import itertools
import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from data.jsonl import read_jsonl

_TOKEN = re.compile(r"\n[ \t]*|[A-Za-z_]\w*|\d+(?:\.\d+)?|\S")  # a newline carries its indentation


@dataclass
class RepairPair:
    broken: str
    fixed: str
    t: float | None  # position in the diffusion trajectory (fraction of steps), None for rule-based pairs
    edit_distance: int
    broken_parses: bool
    error: str | None
    provenance: dict = field(default_factory=dict)
    tests: list[str] | None = None  # the problem's assert tests, when it has any (execution match in resume_repair)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def lex(code: str) -> list[str]:
    return _TOKEN.findall(code)


def token_edit_distance(a: str, b: str) -> int:
    return Levenshtein.distance(lex(a), lex(b))


def parse_error(code: str) -> str | None:
    """None when the code parses, else the parser's message (e.g. "invalid syntax", "expected ':'")."""
    try:
        ast.parse(code)
        return None
    except SyntaxError as e:
        return e.msg
    except ValueError as e:  # e.g. null bytes
        return str(e)


def make_pair(broken: str, fixed: str, t: float | None, provenance: dict,
              tests: list[str] | None = None) -> RepairPair:
    error = parse_error(broken)
    return RepairPair(broken, fixed, t, token_edit_distance(broken, fixed), error is None, error, provenance, tests)


@dataclass
class PairFilter:
    require_fixed_parses: bool = True
    last_mile: bool = False  # keep only broken programs that fail to parse, within max_edit_distance
    max_edit_distance: int = 4


def keep(pair: RepairPair, f: PairFilter, fixed_passes: bool | None = None) -> str | None:
    """None if the pair is kept, else the reason it is dropped."""
    if pair.broken == pair.fixed or pair.edit_distance == 0:
        return "identical"
    if f.require_fixed_parses and parse_error(pair.fixed) is not None:
        return "fixed_does_not_parse"
    if fixed_passes is False:
        return "fixed_fails_tests"
    if f.last_mile and (pair.broken_parses or pair.edit_distance > f.max_edit_distance):
        return "not_last_mile"
    return None


PAIR_FIELDS = ("broken", "fixed", "edit_distance", "broken_parses", "error")  # what pair_statistics reads


def read_pairs(path: str | Path, required: tuple = (), what: str = "pairs file") -> list[dict]:
    """The rows of a jsonl file; a malformed row (or one without a `required` field) is a UsageError at FILE:LINE."""
    return read_jsonl(path, what, required=required).rows


def ngram_jaccard(a: str, b: str, n: int = 4) -> float:
    ga, gb = (set(zip(*(lex(x)[i:] for i in range(n)))) for x in (a, b))
    return len(ga & gb) / len(ga | gb) if ga | gb else 1.0


def edit_gaps(broken: str, fixed: str) -> list[int]:
    """Distances between consecutive edit positions (in the fixed program's tokens)."""
    positions = sorted({op.dest_pos for op in Levenshtein.editops(lex(broken), lex(fixed))})
    return [b - a for a, b in zip(positions, positions[1:])]


def edit_locality(broken: str, fixed: str) -> float | None:
    """Mean gap between consecutive edit positions of one pair; 0.0 for edits at one position; None without edits."""
    positions = {op.dest_pos for op in Levenshtein.editops(lex(broken), lex(fixed))}
    if not positions:
        return None
    gaps = edit_gaps(broken, fixed)
    return sum(gaps) / len(gaps) if gaps else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def mean_pairwise_similarity(programs: list[str]) -> float:
    return _mean([ngram_jaccard(a, b) for a, b in itertools.combinations(programs, 2)])


def pair_statistics(pairs: list[dict], max_pairs_for_diversity: int = 200, seed: int = 0) -> dict:
    sample = pairs if len(pairs) <= max_pairs_for_diversity else random.Random(seed).sample(pairs, max_pairs_for_diversity)
    local = [g for g in (edit_locality(p["broken"], p["fixed"]) for p in pairs) if g is not None]
    return {
        "pairs": len(pairs),
        "diversity_fixed_ngram_jaccard": mean_pairwise_similarity([p["fixed"] for p in sample]),  # Fig. 7(b)
        "diversity_broken_ngram_jaccard": mean_pairwise_similarity([p["broken"] for p in sample]),
        "complexity_edit_distance": _mean([p["edit_distance"] for p in pairs]),
        "localization_edit_gap": _mean(local),
        "broken_parses": sum(p["broken_parses"] for p in pairs) / max(len(pairs), 1),
        "errors": dict(Counter(p["error"] or "parses" for p in pairs).most_common()),
    }
