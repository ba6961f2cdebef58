"""Shared fixtures: preprocessed rows (tokens, AST weights, tiers, spans) of the embedded corpus, and their batches."""

import pytest

from corruption.ast_tiers import example_token_weights
from corruption.maskers import pad_spans
from data.collate import collate
from data.local_corpus import build_local_corpus
from data.tokenize import tokenize_example


def preprocess(tokenizer, examples, max_length: int = 512) -> list[dict]:
    rows = []
    for ex in examples:
        tok = tokenize_example(tokenizer, ex, max_length)
        if tok is None:
            continue
        w = example_token_weights(ex, tok)
        rows.append({"input_ids": tok.input_ids, "prompt_len": tok.prompt_len, "weights": w.weights,
                     "tier_ids": w.tier_ids, "span_ids": w.span_ids, "regions": tok.regions, "spans": w.spans,
                     "parsed_ok": w.parsed_ok})
    return rows


def batch_of(rows: list[dict], pad_id: int) -> dict:
    b = collate(rows, pad_id)
    b["spans"] = pad_spans([r["spans"] for r in rows])
    b["tier_ids"] = collate([{"input_ids": r["tier_ids"], "prompt_len": 0} for r in rows], -1)["input_ids"]
    return b


@pytest.fixture(scope="session")
def prep():
    """The helpers above, for test modules (no package import: tests/ directories are not packages)."""
    return preprocess, batch_of


@pytest.fixture(scope="session")
def corpus_rows(tiny_tokenizer):
    return preprocess(tiny_tokenizer, build_local_corpus(max_examples=384, max_chars=1500))


@pytest.fixture(scope="session")
def corpus_batch(tiny_tokenizer, corpus_rows):
    return batch_of(corpus_rows[:64], tiny_tokenizer.pad_token_id)
