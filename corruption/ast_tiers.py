"""tree-sitter-python parse -> per-token AST tier weights (TreeDiff, Algorithm 1's weights), computed once per sample.

Each code token takes the tier of the innermost tagged AST node overlapping it. Tagged nodes are painted over the
character range of the code in pre-order (children after parents), so the last paint of a character is its innermost
tagged node; a token takes the paint of its deepest character. tree-sitter reports UTF-8 byte offsets, tokens carry
character offsets: bytes are converted to characters before painting, so non-ASCII code aligns.
Unparsable code (ERROR / MISSING nodes, e.g. truncation) gets uniform weights: the masking budget is still honoured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tree_sitter_python
from tree_sitter import Language, Parser

TIERS = ["default", "skeleton", "data", "conditional", "control"]  # tier id = index
DEFAULT_WEIGHTS = {"default": 0.15, "skeleton": 0.15, "data": 0.42, "conditional": 0.58, "control": 0.60}
NODE_TIERS = {
    **dict.fromkeys(["import_statement", "import_from_statement", "future_import_statement", "decorator",
                     "integer", "float", "string", "concatenated_string", "true", "false", "none"], "skeleton"),
    **dict.fromkeys(["assignment", "augmented_assignment", "call", "named_expression", "return_statement",
                     "global_statement", "nonlocal_statement", "delete_statement"], "data"),
    **dict.fromkeys(["if_statement", "elif_clause", "else_clause", "conditional_expression", "boolean_operator",
                     "comparison_operator", "not_operator", "if_clause", "match_statement", "case_clause",
                     "assert_statement"], "conditional"),
    **dict.fromkeys(["for_statement", "while_statement", "for_in_clause", "try_statement", "except_clause",
                     "finally_clause", "with_statement", "break_statement", "continue_statement", "raise_statement",
                     "yield"], "control"),
}
HEADER_NODES = {"function_definition", "class_definition"}  # header (start .. body start) is skeleton
_PARSER = Parser(Language(tree_sitter_python.language()))


@dataclass(frozen=True)
class TierTable:
    node_tiers: dict[str, str]
    weights: dict[str, float]


def tier_table(weight_overrides: dict[str, float] | None = None, node_overrides: dict[str, str] | None = None) -> TierTable:
    """The default table with config overrides, e.g. {"control": 0.7} or node types moved between tiers."""
    weights = {**DEFAULT_WEIGHTS, **(weight_overrides or {})}
    unknown = set(weights) - set(TIERS)
    if unknown:
        raise ValueError(f"unknown tiers {sorted(unknown)}; tiers are {TIERS}")
    return TierTable({**NODE_TIERS, **(node_overrides or {})}, weights)


@dataclass
class TokenTiers:
    tier_ids: list[int]  # per token, index into TIERS (-1: not code)
    weights: list[float]  # per token masking weight (0 for non-code tokens)
    span_ids: list[int]  # per token: id of its innermost tagged node (-1: none), for span masking
    parsed_ok: bool


def _byte_to_char(code: str) -> np.ndarray:
    """Map byte offset -> char offset (len(bytes) + 1 entries)."""
    lengths = np.fromiter((len(c.encode("utf-8")) for c in code), dtype=np.int64, count=len(code))
    char_of_byte = np.repeat(np.arange(len(code)), lengths)
    return np.append(char_of_byte, len(code))


def _paint(code: str, table: TierTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per character: tier id, depth and node id of the innermost tagged node; and whether the parse is clean."""
    tree = _PARSER.parse(code.encode("utf-8"))
    n = len(code)
    tier, depth, node_id = np.zeros(n, np.int8), np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    if tree.root_node.has_error:
        return tier, depth, node_id, False
    to_char = None if len(code.encode("utf-8")) == n else _byte_to_char(code)
    conv = (lambda b: b) if to_char is None else (lambda b: int(to_char[b]))
    stack, next_id = [(tree.root_node, 0)], 0
    while stack:
        node, d = stack.pop()
        name = table.node_tiers.get(node.type)
        end_byte = node.end_byte
        if node.type in HEADER_NODES and node.child_by_field_name("body") is not None:
            name, end_byte = "skeleton", node.child_by_field_name("body").start_byte
        elif name is None and not node.is_named and not node.type.isalpha():
            name = "skeleton"  # punctuation and operators
        if name is not None:
            s, e = conv(node.start_byte), conv(end_byte)
            tier[s:e], depth[s:e], node_id[s:e] = TIERS.index(name), d, next_id
            next_id += 1
        stack.extend((c, d + 1) for c in reversed(node.children))
    return tier, depth, node_id, True


def token_tiers(code: str, offsets: list[tuple[int, int]], table: TierTable) -> TokenTiers:
    """Tier, weight and span id for each token with character span offsets[i] into `code`."""
    tier, depth, node_id, ok = _paint(code, table)
    tier_ids, weights, spans = [], [], []
    for a, b in offsets:
        a, b = max(a, 0), min(max(b, a + 1), len(code))
        if not ok or a >= b:
            tier_ids.append(0)
            weights.append(1.0 if not ok else table.weights["default"])
            spans.append(-1)
            continue
        k = a + int(np.argmax(depth[a:b]))  # the deepest painted character decides
        t = int(tier[k]) if depth[k] >= 0 else 0
        tier_ids.append(t)
        weights.append(table.weights[TIERS[t]])
        spans.append(int(node_id[k]))
    return TokenTiers(tier_ids, weights, spans, ok)


def example_token_weights(example, tokenized, table: TierTable) -> TokenTiers:
    """Per token of tokenized.input_ids: AST tiers for code-region tokens, zeros elsewhere (prompt, text, EOS)."""
    n = len(tokenized.input_ids)
    out = TokenTiers([-1] * n, [0.0] * n, [-1] * n, True)
    base = tokenized.prompt_len
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
            out.tier_ids[base + i], out.weights[base + i], out.span_ids[base + i] = t, w, s
    return out
