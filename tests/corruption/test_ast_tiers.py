import pytest

from corruption.ast_tiers import (
    DEFAULT_TIERS,
    TIERS,
    UNIFORM_WEIGHT,
    example_token_weights,
    tier_table,
    token_tiers,
)
from data.examples import Example, reasoning_regions
from data.tokenize import tokenize_example

CODE = '''import os


def f(x, y=3):
    s = "plain"
    for c in s:
        if c > x and y:
            return foo(c)
    return None
'''


def _by_text(tokenizer, code, table=DEFAULT_TIERS):
    enc = tokenizer(code, add_special_tokens=False, return_offsets_mapping=True)
    tt = token_tiers(code, enc["offset_mapping"], table)
    seen: dict[str, list[str]] = {}
    for (a, b), t in zip(enc["offset_mapping"], tt.tier_ids):
        seen.setdefault(code[a:b].strip(), []).append(TIERS[t])
    return tt, seen


def test_tiers_on_known_code(tiny_tokenizer):
    tt, seen = _by_text(tiny_tokenizer, CODE)
    assert tt.parsed_ok
    assert seen["import"][0] == "skeleton" and seen["def"][0] == "skeleton"  # import, function header
    assert seen["for"][0] == "control" and seen["if"][0] == "conditional"
    assert seen["return"] == ["control", "control"]  # Alg. 1 "ControlFlow (Loops, Returns)"; A.2 p_ctrl = 0.60
    assert seen["fo"] == ["data"] and seen["None"] == ["skeleton"]  # the returned call / constant keep their tier
    assert seen[">"][0] == "conditional"  # operators take their node's tier; punctuation is skeleton
    assert "skeleton" in seen["("] and seen[":"][0] == "skeleton"
    assert tt.weights == [DEFAULT_TIERS.weight_of(t) for t in tt.tier_ids]


def test_non_ascii_code_aligns(tiny_tokenizer):
    # multi-byte characters before later tokens: byte offsets used as char offsets would shift every tier after them
    code = 'x = foo("日本語テキスト héllo wörld")\nif x:\n    for c in x:\n        pass\n'
    tt, seen = _by_text(tiny_tokenizer, code)
    assert tt.parsed_ok and seen["x"][0] == "data" and seen["="] == ["data"]
    assert seen["ö"][0] == "skeleton" and seen["日"][0] == "skeleton"  # inside the string literal
    assert seen["if"][0] == "conditional" and seen["for"][0] == "control" and seen["pass"][0] == "control"


def test_table_overrides():
    t = tier_table({"control": 0.9, "default": 0.2, "lambda": "control"})
    assert t.weights["control"] == 0.9 and t.weights["default"] == 0.2 and t.node_tiers["lambda"] == "control"
    assert DEFAULT_TIERS.weights == {"default": 0.15, "skeleton": 0.15, "data": 0.42, "conditional": 0.58,
                                     "control": 0.60}
    with pytest.raises(ValueError):
        tier_table({"loops": 0.5})
    with pytest.raises(ValueError):
        tier_table({"for_statement": "loops"})
    tt = token_tiers("f = lambda: 1\n", [(0, 1), (4, 10)], tier_table({"lambda": "control"}))
    assert TIERS[tt.tier_ids[1]] == "control"


def test_unparsable_code_falls_back_uniform():
    code = "    if x >\n        return (\n"
    tt = token_tiers(code, [(4, 6), (7, 8), (9, 10)])
    assert not tt.parsed_ok and tt.weights == [UNIFORM_WEIGHT] * 3 and tt.spans == []


def test_spans_are_nested_whole_nodes(tiny_tokenizer):
    enc = tiny_tokenizer(CODE, add_special_tokens=False, return_offsets_mapping=True)
    tt = token_tiers(CODE, enc["offset_mapping"])
    texts = {CODE[enc["offset_mapping"][a][0]: enc["offset_mapping"][b - 1][1]].strip() for a, b, _ in tt.spans}
    assert "return foo(c)" in texts and "c > x and y" in texts and "import os" in texts
    assert any(t.startswith("for c in s:") and t.endswith("return foo(c)") for t in texts)
    assert all(0 <= a < b <= len(enc["input_ids"]) and 0 < w <= 1 for a, b, w in tt.spans)


def test_example_weights_cover_whole_input(tiny_tokenizer):
    completion = "<think>" + "plan " * 10 + "</think>\n```python\nx = 1\nfor i in range(3):\n    x += i\n```\n"
    ex = Example("Q: write it", completion, reasoning_regions(completion))
    tok = tokenize_example(tiny_tokenizer, ex, 512)
    w = example_token_weights(ex, tok)
    n, p = len(tok.input_ids), tok.prompt_len
    assert len(w.weights) == len(w.tier_ids) == len(w.span_ids) == n and w.parsed_ok
    assert w.weights[:p] == [0.0] * p
    for i in range(p, n):
        if tok.regions[i] == 3:
            assert w.tier_ids[i] >= 0 and w.weights[i] == DEFAULT_TIERS.weight_of(w.tier_ids[i])
        else:  # reasoning, text, EOS: one uniform weight
            assert w.tier_ids[i] == -1 and w.weights[i] == UNIFORM_WEIGHT
    assert w.spans and all(tok.regions[i] == 3 for a, b, _ in w.spans for i in range(a, b))
