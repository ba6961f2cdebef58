"""`Example`: one supervised sample (prompt, completion) with the character spans of its completion regions.

Regions let the forward process treat parts of a completion differently (TreeDiff: reasoning masked uniformly, code
masked AST-guided). Region names are a closed set so tokenization can store them as small ints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REGION_IDS = {"prompt": 0, "text": 1, "reasoning": 2, "code": 3}


@dataclass(frozen=True)
class Region:
    name: str  # one of REGION_IDS
    start: int  # character offsets into Example.completion, end exclusive
    end: int


@dataclass(frozen=True)
class Example:
    prompt: str
    completion: str
    regions: tuple[Region, ...] = field(default=())
    source: str = ""

    def region_at(self, char: int) -> str:
        for r in self.regions:
            if r.start <= char < r.end:
                return r.name
        return "text"


_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def code_regions(completion: str) -> tuple[Region, ...]:
    """Whole completion is code (e.g. a function body)."""
    return (Region("code", 0, len(completion)),)


def reasoning_regions(completion: str) -> tuple[Region, ...]:
    """OpenCodeReasoning layout: `<think>reasoning</think>` then an answer whose ```python fence (if any) is the code.

    Text outside the think block and outside the fence is plain "text"; with no fence the whole answer is code.
    """
    regions: list[Region] = []
    answer_start = 0
    think = _THINK.search(completion)
    if think:
        regions.append(Region("reasoning", think.start(1), think.end(1)))
        answer_start = think.end()
    fence = _FENCE.search(completion, answer_start)
    if fence:
        regions.append(Region("code", fence.start(1), fence.end(1)))
    else:
        start = answer_start + (len(completion[answer_start:]) - len(completion[answer_start:].lstrip()))
        regions.append(Region("code", start, len(completion)))
    return tuple(regions)


REGION_LAYOUTS = {"code": code_regions, "reasoning": reasoning_regions}
