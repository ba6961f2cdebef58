"""Reward functions with TRL's contract: f(prompts, completions, completion_ids, **dataset_columns) -> list[float|None].

- code: fraction of the row's tests that passed in the sandbox (repair.execution), 0 unless the format is valid.
  A test counts only when the harness itself received its result, so sys.exit(0), os._exit, killing the runner or
  printing fake results score 0.
- format: fenced mode (DiffuCoder): 1.0 if the completion holds exactly one ```python block that parses, 0.5 if that
  block has a syntax error, 0 if there is no single block. body mode (HumanEval-style prompts that end in a function
  header): program = prompt code + completion; 1.0 if it parses, 0.5 if not, 0 for an empty completion.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import torch

_FENCE = re.compile(r"```python[ \t]*\n(.*?)```", re.DOTALL)


@dataclass
class RewardConfig:
    funcs: list[str] = field(default_factory=lambda: ["code", "format"])  # reward functions: code | format
    # one weight per reward function (DiffuCoder: code 2.0, format 0.5)
    weights: list[float] = field(default_factory=lambda: [2.0, 0.5])
    completion_format: str = "fenced"  # fenced (one ```python block) | body (continues the prompt's code)
    timeout_per_test: float = 5.0  # seconds one test may run in the sandbox
    timeout_per_program: float = 30.0  # seconds all tests of one completion may run
    workers: int = 2  # sandbox processes running completions in parallel


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def extract_program(completion: str, prompt_code: str, completion_format: str) -> tuple[str | None, float]:
    """(program or None when malformed, format score)."""
    if completion_format == "body":
        if not completion.strip():
            return None, 0.0
        program = prompt_code + completion
        return program, 1.0 if _parses(program) else 0.5
    blocks = _FENCE.findall(completion)
    if len(blocks) != 1:
        return None, 0.0
    return blocks[0], 1.0 if _parses(blocks[0]) else 0.5


def format_reward(prompts, completions, completion_ids, prompt_code=None, completion_format="fenced", **_):
    codes = prompt_code or [""] * len(completions)
    return [extract_program(c, p, completion_format)[1] for c, p in zip(completions, codes)]


def code_reward(prompts, completions, completion_ids, tests=None, prompt_code=None, completion_format="fenced",
                timeout_per_test=5.0, timeout_per_program=30.0, workers=2, **_):
    from repair.execution.scoring import pass_fractions

    codes = prompt_code or [""] * len(completions)
    programs = [extract_program(c, p, completion_format) for c, p in zip(completions, codes)]
    runnable = [i for i, (prog, fmt) in enumerate(programs) if prog is not None and fmt == 1.0]
    fractions = pass_fractions([programs[i][0] for i in runnable], [tests[i] for i in runnable],
                               timeout_per_test, timeout_per_program, workers)
    out = [0.0] * len(completions)
    for i, frac in zip(runnable, fractions):
        out[i] = frac
    return out


REWARD_FUNCS = {"code": code_reward, "format": format_reward}


def score(cfg: RewardConfig, prompts: list[str], completions: list[str], completion_ids: torch.Tensor,
          columns: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of the configured reward functions ([N]) and each function's rewards (None -> NaN -> 0 in sum)."""
    kwargs = {**columns, "completion_format": cfg.completion_format, "timeout_per_test": cfg.timeout_per_test,
              "timeout_per_program": cfg.timeout_per_program, "workers": cfg.workers}
    per_func = {}
    for name in cfg.funcs:
        values = REWARD_FUNCS[name](prompts, completions, completion_ids, **kwargs)
        per_func[name] = torch.tensor([float("nan") if v is None else v for v in values])
    total = sum(w * per_func[n].nan_to_num(0.0) for n, w in zip(cfg.funcs, cfg.weights))
    return total, per_func
