"""RL prompts with their tests: the embedded tiny set, minicode's `rl` split (data/minicode.py; tests are asserts
on the canonical solution's outputs), an evalplus-schema / assert-test jsonl, or a Hub dataset (AceCode-89K style: a
question column and a test_cases column of assert statements).

Tests are kept out of the prompt unless `show_tests_in_prompt` (hidden tests must stay hidden from the policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from data.jsonl import read_jsonl
from data.tiny_problems import TINY_PROBLEMS
from data.usage import UsageError


@dataclass
class RLDataConfig:
    name: str = "tiny"  # tiny | minicode | path/to/problems.jsonl | a Hub dataset name
    split: str = "train"  # dataset split; minicode: rl (the split kept for RL prompts)
    prompt_column: str = "prompt"  # column holding the prompt (AceCode-89K: question)
    tests_column: str = "tests"  # column holding the assert tests (AceCode-89K: test_cases)
    prompt_template: str = "{prompt}"  # the policy's prompt, formatted with {prompt}
    code_prefix: bool = True  # the prompt is code the completion continues (body format): prepend it to the program
    show_tests_in_prompt: bool = False  # append the tests to the prompt as comments (hidden by default)
    max_problems: int | None = None  # keep the first N problems with tests (None: all; minicode: 2000)
    seed: int = 0  # minicode: the problem generator's seed (other sources: unused)


def minicode_assert_rows(split: str, num: int, seed: int) -> list[dict]:
    """minicode problems with assert tests built from the canonical solution's outputs."""
    from data.minicode import assert_tests, generate_problems

    return [dict(r, tests=assert_tests(r)) for r in generate_problems(split, num, seed)]


def _rows(cfg: RLDataConfig) -> list[dict]:
    if cfg.name == "tiny":
        return TINY_PROBLEMS
    if cfg.name == "minicode":
        return minicode_assert_rows(cfg.split, cfg.max_problems or 2000, cfg.seed)
    path = Path(cfg.name)
    if path.suffix == ".jsonl":  # malformed lines are skipped, counted and reported as FILE:LINE
        return read_jsonl(path, "RL problems file", on_bad="skip").rows
    import datasets

    return list(datasets.load_dataset(cfg.name, split=cfg.split))


def load_rl_problems(cfg: RLDataConfig) -> list[dict]:
    """Rows {prompt, tests, prompt_code}; rows without tests are skipped (no reward can be computed)."""
    problems = []
    for row in _rows(cfg):
        prompt, tests = row.get(cfg.prompt_column), row.get(cfg.tests_column)
        if isinstance(tests, str):
            tests = json.loads(tests) if tests.lstrip().startswith("[") else [tests]
        if not isinstance(prompt, str) or not tests:
            continue
        text = cfg.prompt_template.format(prompt=prompt)
        if cfg.show_tests_in_prompt:
            text += "\n# Tests:\n" + "\n".join(f"# {t}" for t in tests) + "\n"
        problems.append({"prompt": text, "tests": list(tests), "prompt_code": prompt if cfg.code_prefix else ""})
        if cfg.max_problems and len(problems) >= cfg.max_problems:
            break
    if not problems:
        raise UsageError(f"no RL problems with tests in {cfg.name} (columns {cfg.prompt_column}, {cfg.tests_column}; "
                         "set data.prompt_column / data.tests_column)")
    return problems


def reward_columns(problems: list[dict], num_generations: int) -> dict[str, list]:
    """The reward functions' dataset columns for `problems`, each row repeated G times (prompt-major, as rollouts)."""
    return {"tests": [p["tests"] for p in problems for _ in range(num_generations)],
            "prompt_code": [p.get("prompt_code", "") for p in problems for _ in range(num_generations)]}
