"""Reward functions through the real sandbox: TRL contract, format scores, and reward hacks scoring 0."""

import pytest

from rl.problems import RLDataConfig, load_rl_problems
from rl.rewards import RewardConfig, code_reward, extract_program, format_reward, score

TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]
PROMPT = "def add(a, b):\n"
HACKS = {
    "sys_exit": "    import sys; sys.exit(0)\n",
    "os_exit": "    import os; os._exit(0)\n",
    "kill_runner": "    import os, signal; os.kill(os.getppid(), signal.SIGKILL); os.kill(0, signal.SIGKILL)\n",
    "fake_output": "    print('2 passed, 0 failed'); print('PASS'); raise SystemExit(0)\n",
    "patch_assert": "    import builtins; builtins.AssertionError = type('X', (Exception,), {})\n    return 0\n",
}


def _code(completions, fmt="body"):
    return code_reward(None, completions, None, tests=[TESTS] * len(completions), prompt_code=[PROMPT] * len(completions),
                       completion_format=fmt, timeout_per_test=2, timeout_per_program=5, workers=2)


def test_code_reward_is_the_pass_fraction():
    assert _code(["    return a + b\n", "    return 3\n", "    return a +\n"]) == [1.0, 0.5, 0.0]


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hacks_score_zero(name):
    assert _code([HACKS[name]]) == [0.0]


def test_fenced_format_scores():
    good = "Here:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    broken = "```python\ndef add(a, b)\n    return a + b\n```"
    two = good + good
    assert format_reward(None, [good, broken, two, "no code"], None) == [1.0, 0.5, 0.0, 0.0]
    assert extract_program(good, "", "fenced")[0] == "def add(a, b):\n    return a + b\n"
    assert code_reward(None, [good, broken], None, tests=[TESTS, TESTS], completion_format="fenced",
                       timeout_per_test=2, timeout_per_program=5, workers=1) == [1.0, 0.0]


def test_weighted_score():
    cfg = RewardConfig(completion_format="body", timeout_per_test=2, timeout_per_program=5)
    total, per = score(cfg, ["p", "p"], ["    return a + b\n", ""], None,
                       {"tests": [TESTS, TESTS], "prompt_code": [PROMPT, PROMPT]})
    assert total.tolist() == [2.0 * 1.0 + 0.5 * 1.0, 0.0]
    assert per["code"].tolist() == [1.0, 0.0]


def test_tests_stay_out_of_prompts(tmp_path):
    problems = load_rl_problems(RLDataConfig(name="tiny"))
    assert all("assert" not in p["prompt"] for p in problems)
    shown = load_rl_problems(RLDataConfig(name="tiny", show_tests_in_prompt=True))
    assert all("assert" in p["prompt"] for p in shown)
