"""Evaluation formats: how a problem becomes the model's prompt, and how the generated text becomes the program tested.

Prompt formats (`--prompt-format`, PROMPT_FORMATS):
- raw: base models, the seed paper's protocol and evalplus's direct completion: the problem prompt (a code prefix)
  tokenized as it is, with the tokenizer's usual special tokens; the answer continues the prompt, so the text the
  program is cut from is prompt + completion.
- chat: Instruct models (LLaDA-8B-Instruct, Dream-Instruct, DiffuCoder-Instruct): evalplus's instruction prompt, built
  by evalplus itself (`evalplus.provider.utility.make_raw_chat_prompt`, as `evalplus.codegen` and Dream-Coder's
  EvalPlus evaluation do): a user turn "Please provide a self-contained Python script ... in a markdown code block:"
  with the problem in a fence, then the assistant turn opened with evalplus's response prefix and "```python\n". The
  text the program is cut from is that assistant prefix + completion, so the fence opened in the prompt is seen.
- sft: the prompt this framework's SFT trains with when `chat_template: true` (the TreeDiff configs), built by the
  same function as the training rows (data.tokenize.prompt_token_ids): the problem text as the user turn, the
  template's generation prompt, no instruction; the answer is the reasoning layout (<think>...</think>, then a
  ```python fence). Configs with `chat_template: false` (minicode) train on the raw text: evaluate them with `raw`.
Extraction steps (`--extract`, EXTRACTORS, applied in order; `auto` = the prompt format's default: raw none, chat and
sft think,fenced; think changes nothing in an answer without think tags):
- think: the text after the last `</think>`; an opened `<think>` that never closes leaves no program (the answer was
  never written); text without think tags is kept as it is;
- fenced: the body of the first ``` block (info string empty or py...) that defines the entry point, else of the last
  such block; an unclosed last block (generation ran out) runs to the end; no block: the text is kept as it is;
- sanitize: evalplus's own post-processing (`evalplus.sanitize.sanitize`): the longest parsable run of lines, then
  its imports and the entry point with the definitions it reaches; trailing prose and tests go. Note: it drops
  unparsable lines too, so a syntax error becomes a missing name or function (use it to score EvalPlus numbers
  comparable with evalplus's leaderboard, not to study syntax-error repair).
Token map: every character of the program remembers where it came from in lead + completion; a generated token
belongs to the program when one of its characters does, and its span in the program is that of those characters.
Repair remasks only such tokens (repair.loop.program_mask): text outside the program (reasoning, prose, the fence
markers' own tokens unless they share a token with code) is never selected. Without extraction steps the program is
lead + completion itself and the loop keeps its historical behaviour (the completion's tokens + first EOS).
Nothing here imports torch: the report and the execution core may use it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from data.usage import UsageError

# evalplus.codegen's instruction and response prefixes for instruct models (defined inside its run_codegen).
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a "
    "markdown code block:"
)
RESPONSE_PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem and passes "
    "corresponding tests:"
)


# ---- prompt formats: (tokenizer, problem prompt) -> (prompt token ids, answer text already in the prompt) ----
def _raw(tokenizer, prompt: str) -> tuple[list[int], str]:
    return tokenizer(prompt)["input_ids"], prompt


def _chat(tokenizer, prompt: str) -> tuple[list[int], str]:
    from evalplus.provider.utility import make_raw_chat_prompt

    text = make_raw_chat_prompt(prompt, INSTRUCTION_PREFIX, RESPONSE_PREFIX, tokenizer)
    start = text.rfind(RESPONSE_PREFIX)
    if start < 0:  # the template rewrote the assistant turn: evalplus's split would silently lose the prefix
        raise UsageError(
            "--prompt-format chat: the tokenizer's chat template does not keep the assistant's response "
            "prefix verbatim; evaluate this model with --prompt-format sft or raw"
        )
    # The template writes its own BOS (as inference.loading.encode_prompts).
    return tokenizer(text, add_special_tokens=False)["input_ids"], text[start:]


def _sft(tokenizer, prompt: str) -> tuple[list[int], str]:
    from data.tokenize import prompt_token_ids

    return prompt_token_ids(tokenizer, prompt, chat_template=True), ""


@dataclass(frozen=True)
class PromptFormat:
    encode: Callable[[object, str], tuple[list[int], str]]
    default_extract: tuple[str, ...]
    chat_template: bool  # needs the tokenizer's chat template
    summary: str


PROMPT_FORMATS: dict[str, PromptFormat] = {
    "raw": PromptFormat(
        _raw, (), False, "the problem prompt as is; program = prompt + completion (base models)"
    ),
    "chat": PromptFormat(
        _chat,
        ("think", "fenced"),
        True,
        "evalplus's instruction prompt in the tokenizer's chat template, "
        "assistant turn opened with its response prefix and ```python (Instruct models)",
    ),
    "sft": PromptFormat(
        _sft,
        ("think", "fenced"),
        True,
        "the SFT trainer's prompt (data.tokenize.prompt_token_ids, "
        "chat_template: true): the problem as the user turn (models trained with this framework)",
    ),
}


# ---- extraction: a view is a text and, per character, its index in lead + completion (-1: not from it) ----
@dataclass(frozen=True)
class View:
    text: str
    origin: list[int]

    def cut(self, start: int, end: int) -> View:
        return View(self.text[start:end], self.origin[start:end])


def strip_think(view: View, entry_point: str) -> View:
    end = view.text.rfind("</think>")
    if end >= 0:
        return view.cut(end + len("</think>"), len(view.text))
    return view.cut(0, 0) if "<think>" in view.text else view


def fenced_blocks(text: str) -> list[tuple[str, int, int]]:
    """(info string, body start, body end) of every ``` block, in order; an unclosed last block runs to the end.

    A bare ``` line closes the open block (or opens one); a ``` line with an info string (```python) always opens
    a new block, closing the open one: a model that ignores the fence its prompt opened and starts its own is read
    as it meant (CommonMark would keep that line inside the first block)."""
    blocks, opened, pos = [], None, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```"):
            info = stripped[3:].strip()
            if opened is not None:
                blocks.append((opened[0], opened[1], pos))
            opened = (info, pos + len(line)) if opened is None or info else None
        pos += len(line)
    if opened is not None:
        blocks.append((opened[0], opened[1], len(text)))
    return blocks


def fenced(view: View, entry_point: str) -> View:
    blocks = [b for b in fenced_blocks(view.text) if b[0] == "" or b[0].lower().startswith("py")]
    if not blocks:
        return view
    defines = re.compile(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", re.MULTILINE)
    hit = next((b for b in blocks if entry_point and defines.search(view.text, b[1], b[2])), blocks[-1])
    return view.cut(hit[1], hit[2])


def align_lines(view: View, out: str) -> list[int]:
    """Origins for `out`, a text made of (prefixes of) whole lines of view.text: equal lines are matched in order
    (difflib, no junk heuristic); a line that is a prefix of its counterpart in a replaced run of the same length
    (evalplus keeps a node's text, not a trailing comment) maps to that prefix; anything else is -1."""
    src, dst = view.text.splitlines(keepends=True), out.splitlines(keepends=True)
    starts = [0]
    for line in src:
        starts.append(starts[-1] + len(line))
    pairs: list[tuple[int, int]] = []
    matcher = difflib.SequenceMatcher(
        None, [s.rstrip("\n") for s in src], [d.rstrip("\n") for d in dst], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs += [
                (i, j)
                for i, j in zip(range(i1, i2), range(j1, j2))
                if tag == "equal" or src[i].startswith(dst[j].rstrip("\n"))
            ]
    source_of = dict((j, i) for i, j in pairs)
    origin: list[int] = []
    for j, line in enumerate(dst):
        i = source_of.get(j)
        for k in range(len(line)):
            same = i is not None and k < len(src[i]) and src[i][k] == line[k]
            origin.append(view.origin[starts[i] + k] if same else -1)
    return origin


def sanitize(view: View, entry_point: str) -> View:
    from evalplus.sanitize import sanitize as evalplus_sanitize

    out = evalplus_sanitize(view.text, entry_point or None)
    return View(out, align_lines(view, out))


EXTRACTORS: dict[str, Callable[[View, str], View]] = {
    "think": strip_think,
    "fenced": fenced,
    "sanitize": sanitize,
}


@dataclass(frozen=True)
class Extracted:
    program: str
    offsets: list[tuple[int, int]]  # per completion token: its span in `program` ((-1, -1) outside it)
    in_program: (
        list[bool] | None
    )  # per completion token; None: no extraction, the completion is the program's tail


@dataclass(frozen=True)
class Answer:
    """What one problem's generated text becomes: `lead` (the answer's start, already in the prompt) + completion,
    narrowed by the extraction `steps`."""

    lead: str
    steps: tuple[str, ...] = ()
    entry_point: str = ""

    def extract(self, completion: str, offsets: list[tuple[int, int]]) -> Extracted:
        """`offsets`: each completion token's span in lead + completion (repair.loop.completion_offsets)."""
        source = self.lead + completion
        if not self.steps:
            return Extracted(source, offsets, None)
        view = View(source, list(range(len(source))))
        for step in self.steps:
            view = EXTRACTORS[step](view, self.entry_point)
        where = [-1] * (len(source) + 1)
        for j, o in enumerate(view.origin):
            if o >= 0:
                where[o] = j
        spans, inside = [], []
        for a, b in offsets:
            # a zero-width token (part of a multi-byte character) belongs where its character does
            hits = [where[c] for c in (range(a, b) if b > a else [a]) if where[c] >= 0]
            spans.append((min(hits), max(hits) + (b > a)) if hits else (-1, -1))
            inside.append(bool(hits))
        return Extracted(view.text, spans, inside)


def as_answer(answer: Answer | str) -> Answer:
    """A plain string is a raw-format prompt: the program is that prompt + the completion."""
    return answer if isinstance(answer, Answer) else Answer(answer)


# ---- the format of a whole evaluation ----
def resolve_extract(prompt_format: str, text: str) -> tuple[str, ...]:
    """`--extract`: `auto` (the prompt format's default), `none`, or a comma list of EXTRACTORS names."""
    if prompt_format not in PROMPT_FORMATS:
        raise UsageError(f"unknown --prompt-format {prompt_format!r}; known: {', '.join(PROMPT_FORMATS)}")
    if text.strip() == "auto":
        return PROMPT_FORMATS[prompt_format].default_extract
    if text.strip() == "none":
        return ()
    steps = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in steps if s not in EXTRACTORS]
    if unknown or not steps:
        raise UsageError(f"--extract {text!r}: give auto, none or a comma list of {', '.join(EXTRACTORS)}")
    return steps


@dataclass(frozen=True)
class EvalFormat:
    prompt: str = "raw"  # a key of PROMPT_FORMATS
    extract: tuple[str, ...] = field(default=())  # keys of EXTRACTORS, in order

    def check(self, tokenizer) -> None:
        if PROMPT_FORMATS[self.prompt].chat_template and not getattr(tokenizer, "chat_template", None):
            raise UsageError(
                f"--prompt-format {self.prompt} needs the tokenizer's chat template, and this tokenizer "
                "has none: a base model is evaluated with --prompt-format raw"
            )

    def encode(self, tokenizer, problem) -> tuple[list[int], Answer]:
        """(prompt token ids, the Answer the generated text becomes) for one problem."""
        self.check(tokenizer)
        ids, lead = PROMPT_FORMATS[self.prompt].encode(tokenizer, problem.prompt)
        return ids, Answer(lead, self.extract, problem.entry_point)


def describe(config: dict) -> list[str]:
    """The report header's line on the evaluation format (runs recorded before the options existed were raw/none)."""
    name = config.get("prompt_format") or "raw"
    steps = config.get("extract") or "none"
    fmt = PROMPT_FORMATS.get(name)
    what = fmt.summary if fmt else "?"
    return [
        f"Evaluation format: prompt {name} ({what}); extraction: {steps} (the program tested and repaired is what "
        "extraction keeps; repair remasks only its tokens).",
        "",
    ]
