"""Tokenization that keeps character offsets and per-token regions.

Layout of one sequence: [prompt tokens | completion tokens | EOS]. Completion offsets are character spans into
`Example.completion` (the corruption layer aligns them with AST nodes); the trailing EOS is part of the answer, as in
LLaDA's SFT, so the model learns to stop. Over-long samples are reported as None (the caller counts and skips them).
"""

from __future__ import annotations

from dataclasses import dataclass

from data.examples import REGION_IDS, Example

EOS_REGION = REGION_IDS["text"]


def prompt_token_ids(tokenizer, prompt: str, chat_template: bool = False) -> list[int]:
    """The prompt's token ids exactly as SFT trains on them (evaluation's `--prompt-format sft` reuses this): the raw
    text, or the user turn of the tokenizer's chat template followed by the assistant's generation prompt. No special
    tokens are added beyond what the template writes."""
    if chat_template:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


@dataclass
class TokenizedExample:
    input_ids: list[int]
    prompt_len: int
    offsets: list[tuple[int, int]]  # per completion token (excluding the final EOS), chars into completion
    regions: list[int]  # per token of input_ids: REGION_IDS value


def tokenize_example(
    tokenizer, example: Example, max_length: int, chat_template: bool = False
) -> TokenizedExample | None:
    """Token ids with offsets and regions, or None if longer than max_length."""
    prompt_ids = prompt_token_ids(tokenizer, example.prompt, chat_template)
    enc = tokenizer(example.completion, add_special_tokens=False, return_offsets_mapping=True)
    ids = prompt_ids + enc["input_ids"] + [tokenizer.eos_token_id]
    if len(ids) > max_length:
        return None
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    regions = [REGION_IDS["prompt"]] * len(prompt_ids)
    regions += [REGION_IDS[example.region_at(start)] for start, _ in offsets] + [EOS_REGION]
    return TokenizedExample(ids, len(prompt_ids), offsets, regions)


def line_token_positions(offsets: list[tuple[int, int]], text: str, lines: set[int]) -> list[int]:
    """Indices of tokens whose character span intersects any of the given 1-based lines of `text`."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    spans = [(starts[ln - 1], starts[ln] if ln < len(starts) else len(text)) for ln in sorted(lines) if 1 <= ln <= len(starts)]
    return [i for i, (a, b) in enumerate(offsets) if any(a < e and s < max(b, a + 1) for s, e in spans)]
