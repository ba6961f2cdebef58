"""A plain-Python slow byte-level BPE with the behaviour of Dream's remote-code DreamTokenizer (= Qwen2's slow
tokenizer), written from its description: NFC, split out the added tokens, Qwen2's pre-tokenization regex, GPT-2's
byte -> unicode map, then repeatedly merge the adjacent pair of lowest merge rank. The oracle for
inference/hub_tokenizer.py's fast tokenizer; deliberately naive (no cache, no trie)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import regex

SPLIT = regex.compile(r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's table: printable bytes map to themselves, the other 68 to chr(256 + k) in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class SlowDreamTokenizer:
    def __init__(self, directory: Path):
        self.vocab = json.loads((directory / "vocab.json").read_text())
        lines = (directory / "merges.txt").read_text().splitlines()[1:]
        self.ranks = {tuple(line.split(" ")): k for k, line in enumerate(lines) if line}
        config = json.loads((directory / "tokenizer_config.json").read_text())
        self.added = {e["content"]: int(i) for i, e in config["added_tokens_decoder"].items()}
        self.bytes = byte_to_unicode()

    def bpe(self, word: str) -> list[str]:
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), float("inf")), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, k = min(pairs)
            if rank == float("inf"):
                break
            first, second = parts[k], parts[k + 1]
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of the pair, left to right
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text: str) -> list[int]:
        text = unicodedata.normalize("NFC", text)
        pattern = "(" + "|".join(regex.escape(t) for t in sorted(self.added, key=len, reverse=True)) + ")"
        ids = []
        for piece in regex.split(pattern, text):
            if piece in self.added:
                ids.append(self.added[piece])
                continue
            for word in SPLIT.findall(piece):
                mapped = "".join(self.bytes[b] for b in word.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self.bpe(mapped))
        return ids
