"""SFT preprocessing, cached with `datasets`, and the deterministic, resumable sample order.

Preprocessing runs once (each rank a contiguous shard, rank 0 joins them; all read the cache): examples -> token ids with offsets ->
per-token AST tier weights (parsed once per sample, not per step). The cache key covers everything that changes
the rows, so a config change never reuses stale data.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from corruption.ast_tiers import example_token_weights, tier_table
from data.sources import SourceConfig, load_examples
from data.tokenize import tokenize_example
from data.usage import UsageError
from train import dist

PREPROCESS_VERSION = 2  # 2: uniform weight for non-code tokens, operator tiers, nested spans


def _cache_key(source: SourceConfig, tokenizer, max_length: int, chat_template: bool, tiers: dict) -> str:
    ident = {"source": asdict(source), "tokenizer": [tokenizer.name_or_path, len(tokenizer)],
             "max_length": max_length, "chat_template": chat_template, "tiers": tiers, "v": PREPROCESS_VERSION}
    return hashlib.sha1(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def example_row(tokenizer, example, max_length: int, table, chat_template: bool = False) -> tuple[dict | None, bool]:
    """One preprocessed row (ids, prompt length, per-token AST weights / tiers / spans, regions) or None if too long;
    and whether its code parsed."""
    tok = tokenize_example(tokenizer, example, max_length, chat_template)
    if tok is None:
        return None, True
    w = example_token_weights(example, tok, table)
    row = {"input_ids": tok.input_ids, "prompt_len": tok.prompt_len, "weights": w.weights, "tier_ids": w.tier_ids,
           "span_ids": w.span_ids, "regions": tok.regions, "spans": [list(sp) for sp in w.spans]}
    return row, w.parsed_ok


def build_rows(source: SourceConfig, tokenizer, max_length: int, chat_template: bool, tiers: dict,
               shard: tuple[int, int] = (0, 1)):
    """Rows of the examples in contiguous shard (index, count); shard 0 also counts the rows load_examples skipped."""
    examples, stats = load_examples(source)
    table = tier_table(tiers)
    index, count = shard
    lo, hi = len(examples) * index // count, len(examples) * (index + 1) // count
    rows, skipped = [], Counter(stats.skipped if index == 0 else {})
    for ex in tqdm(examples[lo:hi], desc="preprocess", disable=not dist.is_main()):
        row, parsed_ok = example_row(tokenizer, ex, max_length, table, chat_template)
        if row is None:
            skipped["too_long_tokens"] += 1
            continue
        if not parsed_ok:
            skipped["unparsable_code"] += 1  # kept: the masker falls back to uniform for these tokens
        rows.append(row)
    return rows, {"kept": len(rows), "skipped": dict(skipped)}


def load_sft_rows(source: SourceConfig, tokenizer, max_length: int, chat_template: bool, tiers: dict,
                  cache_root: Path):
    """The preprocessed dataset (a datasets.Dataset) and its stats, cached on disk. Every rank preprocesses a
    contiguous shard (tree-sitter parsing is most of it) and rank 0 joins them in order, so the rows, their order
    and the cache are the same for any number of ranks."""
    import datasets

    path = cache_root / _cache_key(source, tokenizer, max_length, chat_template, tiers)
    if (path / "stats.json").exists():  # decided before the first barrier, so every rank decides alike
        dist.barrier()
        return datasets.load_from_disk(str(path / "rows")), json.loads((path / "stats.json").read_text())
    shards = [path / "shards" / f"{r}-of-{dist.world_size()}.pkl" for r in range(dist.world_size())]
    shards[0].parent.mkdir(parents=True, exist_ok=True)
    shards[dist.rank()].write_bytes(pickle.dumps(build_rows(source, tokenizer, max_length, chat_template, tiers,
                                                            (dist.rank(), dist.world_size()))))
    dist.barrier()
    if dist.is_main():
        rows, skipped = [], Counter()
        for shard in shards:  # in rank order: the rows of one rank's build, whatever the rank count
            part_rows, part_stats = pickle.loads(shard.read_bytes())
            rows += part_rows
            skipped.update(part_stats["skipped"])
        stats = {"kept": len(rows), "skipped": dict(skipped)}
        if not rows:
            raise UsageError(f"no usable training examples in {source.name}: {stats}")
        datasets.Dataset.from_list(rows).save_to_disk(str(path / "rows"))
        (path / "stats.json").write_text(json.dumps(stats))
    dist.barrier()
    return datasets.load_from_disk(str(path / "rows")), json.loads((path / "stats.json").read_text())


def _arrow_column(rows, name: str):
    """The Arrow column `name` when rows is a datasets.Dataset (read without materialising a row), else None."""
    return rows.data.column(name) if hasattr(rows, "data") and hasattr(rows.data, "column") else None


def row_lengths(rows) -> list[int]:
    """Token count of every row, from the Arrow column of a datasets.Dataset or from a list of row dicts."""
    column = _arrow_column(rows, "input_ids")
    if column is not None:
        import pyarrow.compute as pc

        return pc.list_value_length(column).to_pylist()
    return [len(r["input_ids"]) for r in rows]


def row_prompt_lengths(rows) -> list[int]:
    """Prompt token count of every row (Arrow column when rows is a datasets.Dataset)."""
    column = _arrow_column(rows, "prompt_len")
    return column.to_pylist() if column is not None else [r["prompt_len"] for r in rows]


class SampleOrder:
    """Global sample stream: epoch e visits a permutation seeded by (seed, e). Position p is the p-th sample drawn by
    the whole job, so resuming at a saved position continues the exact same order on any step.

    With `lengths` (length-grouped sampling) each epoch's permutation is cut into buckets of `bucket_rows`
    consecutive rows and every bucket is sorted by length, longest first. Micro-batches are consecutive slices of
    the stream, so a micro-batch holds rows of similar length (little padding), and so do the micro-batches the
    ranks of one step take side by side (no rank waits for a much longer one at the ZeRO-2 gradient reduction).
    The stream still depends on (seed, epoch, position) only, not on the number of ranks: resume is exact and
    every row is visited once per epoch. The price: within a bucket, lengths decrease from step to step.
    """

    def __init__(self, num_rows: int, seed: int, lengths: list[int] | None = None, bucket_rows: int = 0):
        if lengths is not None and (len(lengths) != num_rows or bucket_rows < 1):
            raise ValueError(f"need one length per row ({len(lengths)} for {num_rows}) and bucket_rows >= 1")
        self.num_rows, self.seed, self._perms = num_rows, seed, {}
        self.lengths, self.bucket_rows = lengths, bucket_rows

    def permutation(self, epoch: int) -> list[int]:
        g = torch.Generator(device="cpu").manual_seed(self.seed * 100_003 + epoch)
        perm = torch.randperm(self.num_rows, generator=g).tolist()
        if self.lengths is None:
            return perm
        out = []
        for start in range(0, self.num_rows, self.bucket_rows):
            # a stable sort: rows of equal length keep their random order
            out += sorted(perm[start : start + self.bucket_rows], key=lambda i: -self.lengths[i])
        return out

    def index(self, position: int) -> int:
        epoch, i = divmod(position, self.num_rows)
        if epoch not in self._perms:
            self._perms = {epoch: self.permutation(epoch)}
        return self._perms[epoch][i]

    def micro_batch(self, position: int, micro: int, rank: int, world: int, size: int) -> list[int]:
        """Indices of micro-batch `micro` of `rank` in the global step that starts at `position`."""
        start = position + (micro * world + rank) * size
        return [self.index(start + j) for j in range(size)]
