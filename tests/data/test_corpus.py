import ast
import json

import pytest

from data.examples import Example, reasoning_regions
from data.local_corpus import build_local_corpus, functions_with_docstrings
from data.sources import SourceConfig, load_examples
from data.tokenize import line_token_positions, tokenize_example
from data.usage import UsageError


def test_embedded_corpus_yields_well_formed_pairs():
    examples = build_local_corpus(max_examples=200)
    assert len(examples) == 200
    for ex in examples:
        assert ex.prompt.startswith(("def ", "async def ")) and ex.completion.strip()
        tree = ast.parse(ex.prompt + ex.completion)  # the pair re-forms a valid function
        fn = tree.body[0]
        assert ast.get_docstring(fn) is not None
        assert ex.regions[0].name == "code" and ex.regions[0].end == len(ex.completion)


def test_function_split_on_hand_made_source():
    src = 'class A:\n    def f(self, x):\n        """Doc."""\n        return x + 1\n\ndef g():\n    return 2\n'
    (ex,) = list(functions_with_docstrings(src))
    assert ex.prompt == 'def f(self, x):\n    """Doc."""\n'
    assert ex.completion == "    return x + 1\n"


def test_reasoning_layout_regions():
    c = "<think>plan it</think>\nAnswer:\n```python\ndef f():\n    return 1\n```\n"
    regions = {r.name: c[r.start : r.end] for r in reasoning_regions(c)}
    assert regions == {"reasoning": "plan it", "code": "def f():\n    return 1\n"}


def test_local_jsonl_with_column_map_skips_and_counts_bad_rows(tmp_path):
    rows = [
        {"input": "q1", "output": "<think>r</think>\n```python\nx = 1\n```"},
        {"input": "q2", "output": ""},
        {"input": "q3", "output": None},
        {"input": "q4", "output": "y" * 500},
        {"input": "q5", "output": "z = 2"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    cfg = SourceConfig(name=str(path), prompt_column="input", completion_column="output", layout="reasoning",
                       max_chars=100)
    examples, stats = load_examples(cfg)
    assert [e.prompt for e in examples] == ["q1", "q5"]
    assert stats.skipped == {"empty_completion": 1, "missing_field": 1, "too_long": 1}


def test_missing_column_is_a_clear_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "a"}))
    with pytest.raises(UsageError, match="no column"):
        load_examples(SourceConfig(name=str(path)))


def test_tokenize_keeps_offsets_and_regions(tiny_tokenizer):
    ex = Example("def f():\n", "    return 'é'\n", reasoning_regions("    return 'é'\n"))
    te = tokenize_example(tiny_tokenizer, ex, max_length=64)
    assert te.input_ids[-1] == tiny_tokenizer.eos_token_id
    assert len(te.regions) == len(te.input_ids) and te.regions[: te.prompt_len] == [0] * te.prompt_len
    assert "".join(ex.completion[a:b] for a, b in dict.fromkeys(te.offsets)) == ex.completion
    assert tokenize_example(tiny_tokenizer, ex, max_length=3) is None


def test_line_token_positions(tiny_tokenizer):
    code = "def f(a):\n    x = a\n    return x\n"
    enc = tiny_tokenizer(code, return_offsets_mapping=True, add_special_tokens=False)
    pos = line_token_positions(enc["offset_mapping"], code, {2})
    text = "".join(code[slice(*enc["offset_mapping"][i])] for i in pos)
    assert "x = a" in text and "return" not in text and "def" not in text
