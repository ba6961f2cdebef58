"""tree-sitter-python parse -> per-token AST tiers and weights (TreeDiff Algorithm 1) and node spans (Algorithm 2).

Computed once per sample in preprocessing, never per training step. Each code token takes the tier of the innermost
tagged AST node overlapping it: tagged nodes paint the characters they cover in pre-order (children after parents),
so a character keeps the paint of its innermost tagged node, and a token takes the paint of its deepest character.
tree-sitter reports UTF-8 byte offsets while tokens carry character offsets: bytes are converted to characters
before painting, so non-ASCII code aligns. Unparsable code (ERROR / MISSING nodes, e.g. truncation) gets uniform
weights and parsed_ok=False (the caller counts it); the masker still honours the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import tree_sitter_python
from tree_sitter import Language, Node, Parser

# The tier table: ONE dict, tier name -> weight and the tree-sitter-python 0.25 node types it tags (spec table).
# "default" tags nothing: it is the weight of every untagged code token (p_default).
TIER_SPEC: dict[str, dict] = {
    "default": {"weight": 0.15, "nodes": ()},
    "skeleton": {"weight": 0.15, "nodes": (
        "import_statement", "import_from_statement", "future_import_statement", "decorator",
        "integer", "float", "string", "concatenated_string", "true", "false", "none",
        "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "->", "\\")},  # constants and punctuation (not operators)
    "data": {"weight": 0.42, "nodes": (
        "assignment", "augmented_assignment", "call", "named_expression",
        "global_statement", "nonlocal_statement", "delete_statement")},
    "conditional": {"weight": 0.58, "nodes": (
        "if_statement", "elif_clause", "else_clause", "conditional_expression", "boolean_operator",
        "comparison_operator", "not_operator", "if_clause", "match_statement", "case_clause", "assert_statement")},
    # return is control flow: Algorithm 1 "ControlFlow (Loops, Returns)", A.2 "for, while, return ... p_ctrl = 0.60"
    "control": {"weight": 0.60, "nodes": (
        "for_statement", "while_statement", "for_in_clause", "try_statement", "except_clause", "finally_clause",
        "with_statement", "return_statement", "break_statement", "continue_statement", "raise_statement", "yield")},
}
TIERS = list(TIER_SPEC)  # tier id = index; -1 marks a non-code token
TIER_IDS = {name: i for i, name in enumerate(TIERS)}
HEADER_NODES = {"function_definition", "class_definition"}  # node start .. body start is skeleton
UNIFORM_WEIGHT = 1.0  # non-code completion tokens and unparsed code: one flat weight (only ratios matter in a pool)
_PARSER = Parser(Language(tree_sitter_python.language()))


@dataclass(frozen=True)
class TierTable:
    node_tiers: Mapping[str, str]  # node type -> tier name
    weights: Mapping[str, float]  # tier name -> masking weight

    def weight_of(self, tier_id: int) -> float:
        return self.weights[TIERS[tier_id]]


def tier_table(overrides: Mapping[str, float | str] | None = None,
               node_overrides: Mapping[str, str] | None = None) -> TierTable:
    """The default table with config overrides: tier name -> weight (e.g. {"control": 0.7, "default": 0.2}) and
    node type -> tier name (e.g. {"lambda": "control"}), in one mapping or node ones in node_overrides."""
    weights = {name: spec["weight"] for name, spec in TIER_SPEC.items()}
    nodes = {node: name for name, spec in TIER_SPEC.items() for node in spec["nodes"]}
    for key, value in {**(overrides or {}), **(node_overrides or {})}.items():
        if isinstance(value, str):
            if value not in TIER_IDS:
                raise ValueError(f"node type {key!r} -> unknown tier {value!r}; tiers are {TIERS}")
            nodes[key] = value
        elif key in TIER_IDS:
            weights[key] = float(value)
        else:
            raise ValueError(f"unknown tier {key!r}; tiers are {TIERS} (node types map to a tier name)")
    return TierTable(nodes, weights)


DEFAULT_TIERS = tier_table()


@dataclass
class TokenTiers:
    tier_ids: list[int]  # per token: index into TIERS (-1: not a code token)
    weights: list[float]  # per token masking weight (0: never masked / not maskable)
    span_ids: list[int]  # per token: id of its innermost tagged node (-1: none); a disjoint partition
    parsed_ok: bool
    spans: list[tuple[int, int, float]] = field(default_factory=list)  # nested AST node spans: token [start, end), weight


@dataclass
class _Paint:
    tier: np.ndarray  # [n_chars] tier id of the innermost tagged node
    depth: np.ndarray  # [n_chars] its depth (-1: unpainted)
    node: np.ndarray  # [n_chars] its id
    spans: list[tuple[int, int, int]]  # char [start, end), tier id of every named node (and function headers)


def _byte_to_char(code: str) -> np.ndarray:
    """[n_bytes + 1]: char offset of each UTF-8 byte offset."""
    lengths = np.fromiter((len(c.encode("utf-8")) for c in code), dtype=np.int64, count=len(code))
    return np.append(np.repeat(np.arange(len(code)), lengths), len(code))


def _node_tier(node: Node, table: TierTable) -> tuple[str | None, int]:
    """(tier name or None if untagged, end byte of the tagged part) of one node."""
    body = node.child_by_field_name("body") if node.type in HEADER_NODES else None
    if body is not None:
        return "skeleton", body.start_byte
    return table.node_tiers.get(node.type), node.end_byte


def _paint(code: str, table: TierTable) -> _Paint | None:
    """Paint every character with its innermost tagged node; None if the code does not parse cleanly."""
    source = code.encode("utf-8")
    tree = _PARSER.parse(source)
    if tree.root_node.has_error:
        return None
    n = len(code)
    to_char = np.arange(n + 1) if len(source) == n else _byte_to_char(code)
    out = _Paint(np.zeros(n, np.int64), np.full(n, -1, np.int64), np.full(n, -1, np.int64), [])
    stack, next_id = [(tree.root_node, 0)], 0
    while stack:
        node, d = stack.pop()
        name, end_byte = _node_tier(node, table)
        s, e = int(to_char[node.start_byte]), int(to_char[end_byte])
        if name is not None:
            out.tier[s:e], out.depth[s:e], out.node[s:e] = TIER_IDS[name], d, next_id
            next_id += 1
        if node.is_named:  # Algorithm 2 spans: whole nodes; a class/def header is its own skeleton span
            full_end = int(to_char[node.end_byte])
            out.spans.append((s, full_end, TIER_IDS[name] if name and e == full_end else 0))
            if e != full_end:
                out.spans.append((s, e, TIER_IDS["skeleton"]))
        stack.extend((c, d + 1) for c in reversed(node.children))
    return out


def _token_spans(char_spans: list[tuple[int, int, int]], starts: np.ndarray, ends: np.ndarray,
                 table: TierTable) -> list[tuple[int, int, float]]:
    """Char spans -> token [start, end) of the tokens overlapping them; identical ranges keep the innermost node."""
    if not char_spans:
        return []
    cs = np.array(char_spans, dtype=np.int64)  # [S, 3]
    first = np.searchsorted(ends, cs[:, 0], side="right")  # first token ending after the span start
    last = np.searchsorted(starts, cs[:, 1], side="left")  # tokens starting before the span end
    by_range: dict[tuple[int, int], float] = {}
    for a, b, t in zip(first.tolist(), last.tolist(), cs[:, 2].tolist()):
        if b > a:
            by_range[(a, b)] = table.weight_of(t)  # pre-order: a later identical range is a deeper node
    return [(a, b, w) for (a, b), w in by_range.items()]


def token_tiers(code: str, offsets: list[tuple[int, int]], table: TierTable = DEFAULT_TIERS) -> TokenTiers:
    """Tier, weight, innermost span id and node spans for each token with character span offsets[i] into `code`
    (offsets sorted, as a fast tokenizer's offset_mapping)."""
    painted = _paint(code, table) if code else None
    if painted is None:
        k = len(offsets)
        return TokenTiers([0] * k, [UNIFORM_WEIGHT] * k, [-1] * k, False)
    n = len(code)
    starts = np.clip(np.array([a for a, _ in offsets], dtype=np.int64).reshape(-1), 0, max(n - 1, 0))
    ends = np.clip(np.array([b for _, b in offsets], dtype=np.int64).reshape(-1), starts + 1, n)
    # one int64 key per char, max-reduced over each token's chars: the deepest painted char wins
    key = np.append((painted.depth + 1) << 40 | (painted.node + 1) << 4 | painted.tier, 0)  # [n + 1]
    bounds = np.stack([starts, ends], 1).reshape(-1)
    best = np.maximum.reduceat(key, bounds)[::2] if len(offsets) else np.zeros(0, np.int64)
    painted_tok = best >> 40 > 0
    tier = np.where(painted_tok, best & 0xF, 0)
    span = np.where(painted_tok, ((best >> 4) & ((1 << 36) - 1)) - 1, -1)
    weights = [table.weight_of(t) for t in tier.tolist()]
    spans = _token_spans(painted.spans, starts, ends, table)
    return TokenTiers(tier.tolist(), weights, span.tolist(), True, spans)


def example_token_weights(example, tokenized, table: TierTable = DEFAULT_TIERS) -> TokenTiers:
    """Per token of the WHOLE tokenized.input_ids: the prompt gets weight 0 (never masked), code-region tokens their
    AST tier weights (spans in input_ids positions), other completion tokens (reasoning, text, EOS) UNIFORM_WEIGHT.
    parsed_ok is False if any code region failed to parse (uniform fallback there)."""
    n, base = len(tokenized.input_ids), tokenized.prompt_len
    out = TokenTiers([-1] * n, [0.0] * base + [UNIFORM_WEIGHT] * (n - base), [-1] * n, True, [])
    next_span = 0
    for region in example.regions:
        if region.name != "code":
            continue
        idx = [i for i, (a, b) in enumerate(tokenized.offsets) if a < region.end and b > region.start]
        if not idx:
            continue
        code = example.completion[region.start : region.end]
        local = [(tokenized.offsets[i][0] - region.start, tokenized.offsets[i][1] - region.start) for i in idx]
        tiers = token_tiers(code, local, table)
        out.parsed_ok &= tiers.parsed_ok
        for i, t, w, s in zip(idx, tiers.tier_ids, tiers.weights, tiers.span_ids):
            out.tier_ids[base + i], out.weights[base + i] = t, w
            out.span_ids[base + i] = s + next_span if s >= 0 else -1
        next_span += max(tiers.span_ids, default=-1) + 1
        shift = base + idx[0]  # a region's code tokens are contiguous in the completion
        out.spans.extend((a + shift, b + shift, w) for a, b, w in tiers.spans)
    return out
