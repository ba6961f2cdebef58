"""Evaluation formats (issue 29.4): chat / SFT prompts, extraction of the program from reasoning + fenced code +
prose, repair that remasks only the extracted program's tokens, and the CLI on the tiny LLaDA and Dream models."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from data.examples import Example
from data.problems import problem_from_row, split_tests
from data.tiny_problems import TINY_PROBLEMS
from data.tokenize import tokenize_example
from data.usage import UsageError
from repair.execution import Limits
from repair.formats import (
    INSTRUCTION_PREFIX,
    RESPONSE_PREFIX,
    Answer,
    EvalFormat,
    View,
    fenced,
    resolve_extract,
    strip_think,
)
from repair.loop import LoopConfig, generation_key, heldout_result, make_task, program_mask
from repair.strategies import run_strategy

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(timeout_per_test=2.0, timeout_per_problem=10.0, grace=0.5)
CFG = LoopConfig(steps=8, gen_length=128, block_length=128, repair_steps=4, budget_k=64, rounds=1)
CODE = "def add(a, b):\n    return a + b\n"
REASONING = "<think>\nAdd the numbers; a draft:\n```python\ndef add(a, b):\n    return a - b\n```\n</think>\n"
PROSE = "It returns the sum, so add(1, 2) gives 3.\n"


def answer_with(code: str) -> str:
    return REASONING + "Here is the function:\n```python\n" + code + "```\n" + PROSE


def view(text: str) -> View:
    return View(text, list(range(len(text))))


# ---- pure pieces ----
def test_think_and_fence_rules():
    assert strip_think(view("a<think>x</think>b"), "f").text == "b"
    assert strip_think(view("x</think>b"), "f").text == "b"  # the template opened the think block
    assert strip_think(view("<think>never closed"), "f").text == ""  # no answer was written
    assert strip_think(view("plain"), "f").text == "plain"
    two = "```python\ndef helper():\n    pass\n```\ntext\n```py\ndef f():\n    return helper()\n```\nbye\n"
    got = fenced(view(two), "f")
    assert (
        got.text == "def f():\n    return helper()\n" and two[got.origin[0] : got.origin[-1] + 1] == got.text
    )
    assert fenced(view(two), "g").text == "def f():\n    return helper()\n"  # none defines g: the last block
    assert (
        fenced(view("```text\nno\n```\n```\nx = 1\n"), "f").text == "x = 1\n"
    )  # unclosed, bare; text skipped
    assert fenced(view("def f():\n    return 1\n"), "f").text == "def f():\n    return 1\n"  # no fence: kept
    # the prompt opened a fence the model ignored: its own ```python block is the code
    assert fenced(view("```python\nSure! Here:\n```python\n" + CODE + "```\n"), "add").text == CODE


def test_resolve_extract_defaults_and_errors():
    assert resolve_extract("raw", "auto") == () and resolve_extract("chat", "auto") == ("think", "fenced")
    assert resolve_extract("sft", "auto") == ("think", "fenced") and resolve_extract("chat", "none") == ()
    assert resolve_extract("raw", "fenced, sanitize") == ("fenced", "sanitize")
    for bad in ("fences", ","):
        with pytest.raises(UsageError, match="--extract"):
            resolve_extract("raw", bad)


def test_sanitize_is_evalplus_and_maps_tokens_back(tiny_tokenizer):
    from evalplus.sanitize import sanitize

    from repair.loop import completion_offsets

    prompt = "import math\n\ndef add(a, b):\n"
    completion = "    return a + b  # sum\n\nprint(add(1, 2))\nassert add(2, 2) == 4\n"
    ids = tiny_tokenizer(completion, add_special_tokens=False)["input_ids"]
    text, offsets = completion_offsets(tiny_tokenizer, ids, len(prompt))
    ex = Answer(prompt, ("sanitize",), "add").extract(text, offsets)
    assert ex.program == sanitize(prompt + completion, "add")
    assert "print" not in ex.program and "assert" not in ex.program and "return a + b" in ex.program
    inside = [tiny_tokenizer.decode([i]) for i, k in zip(ids, ex.in_program) if k]
    assert "".join(inside).strip().startswith("return a + b") and not any("print" in t for t in inside)
    for i, (a, b), k in zip(
        ids, ex.offsets, ex.in_program
    ):  # each token's span in the program is its own text
        if k and b > a:
            assert tiny_tokenizer.decode([i]).endswith(ex.program[a:b]) or ex.program[
                a:b
            ] in tiny_tokenizer.decode([i])


def test_sft_prompt_is_the_training_prompt_and_chat_is_evalplus(tiny_tokenizer):
    from evalplus.provider.utility import make_raw_chat_prompt

    problem = problem_from_row(dict(TINY_PROBLEMS[0]), dataset="")
    ids, answer = EvalFormat("sft", ("think", "fenced")).encode(tiny_tokenizer, problem)
    row = tokenize_example(tiny_tokenizer, Example(problem.prompt, "x"), 512, chat_template=True)
    assert ids == row.input_ids[: row.prompt_len] and answer.lead == ""
    ids, answer = EvalFormat("chat", ("fenced",)).encode(tiny_tokenizer, problem)
    text = make_raw_chat_prompt(problem.prompt, INSTRUCTION_PREFIX, RESPONSE_PREFIX, tiny_tokenizer)
    assert (
        tiny_tokenizer.decode(ids) == text and INSTRUCTION_PREFIX in text and problem.prompt.strip() in text
    )
    assert answer.lead == RESPONSE_PREFIX + "\n```python\n" and text.endswith(answer.lead)
    bare = copy.deepcopy(tiny_tokenizer)
    bare.chat_template = None
    with pytest.raises(UsageError, match="chat template"):
        EvalFormat("chat").encode(bare, problem)


# ---- on the tiny model ----


def forced(engine, fmt, completion, pool, conf=None):
    """A task in format `fmt` whose stage-1 candidate is `completion` (injected into the generation cache: the
    post-processing seam), and that candidate."""
    problem = problem_from_row(dict(TINY_PROBLEMS[0]), dataset="")  # add(a, b)
    task = make_task(engine, problem, split_tests(problem).feedback, 0, limits=LIMITS, pool=pool, fmt=fmt)
    ids = engine.tokenizer(completion, add_special_tokens=False)["input_ids"]
    assert len(ids) < CFG.gen_length
    gen = torch.tensor([ids + [engine.stop_ids[0]] * (CFG.gen_length - len(ids))])
    seq, P = torch.cat([task.prompt_ids, gen], dim=1), task.prompt_ids.shape[1]
    confs = torch.ones(seq.shape)
    confs[0, P:] = torch.linspace(0.05, 0.95, CFG.gen_length) if conf is None else conf
    cand = engine.candidate(seq, confs, P, task.answer)
    task.cache[generation_key(CFG, CFG.temperature, 0)] = (cand, CFG.steps)
    return problem, task, cand, ids


@pytest.mark.parametrize("prompt_format", ["chat", "sft"])
def test_reasoning_fenced_code_and_prose_evaluate_to_the_fenced_program(engine, pool, prompt_format):
    fmt = EvalFormat(prompt_format, resolve_extract(prompt_format, "auto"))
    problem, task, cand, ids = forced(engine, fmt, answer_with(CODE), pool)
    assert cand.completion == answer_with(CODE) and cand.program == CODE
    (out,) = run_strategy("no-repair", engine, [task], CFG)
    assert out.final.program == CODE and out.final_feedback.status == "pass"
    split = split_tests(problem)
    assert (
        heldout_result(problem, split.heldout, out.final.program, limits=LIMITS, pool=pool).status == "pass"
    )
    # raw (no extraction): the same answer is prompt + prose, which does not even parse
    _, task, cand, _ = forced(engine, EvalFormat(), answer_with(CODE), pool)
    assert run_strategy("no-repair", engine, [task], CFG)[0].final_feedback.status != "pass"


def test_repair_remasks_only_the_extracted_programs_tokens(engine, pool):
    """Trace-guided and global low-confidence on a failing fenced program whose reasoning and prose are the least
    confident tokens: every remasked position is a token of the program, and the rest is kept."""
    buggy = "def add(a, b):\n    x = 1\n    return a + undefined_name\n"
    fmt = EvalFormat("sft", ("think", "fenced"))
    _, task, cand, ids = forced(
        engine, fmt, answer_with(buggy), pool, conf=torch.linspace(0.95, 0.05, CFG.gen_length)
    )
    assert cand.program == buggy
    inside = program_mask(cand)[0]
    P = cand.prompt_len
    code_tokens = "".join(engine.tokenizer.decode([ids[j]]) for j in range(len(ids)) if inside[P + j])
    assert buggy in code_tokens and "think" not in code_tokens and "sum" not in code_tokens
    for name, method in (("trace-guided", "exception"), ("global-low-confidence", "global")):
        _, task, cand, _ = forced(
            engine, fmt, answer_with(buggy), pool, conf=torch.linspace(0.95, 0.05, CFG.gen_length)
        )
        (out,) = run_strategy(name, engine, [task], replace(CFG, budget_k=8, global_scope="all"))
        (rnd,) = out.rounds
        assert rnd.method == method and rnd.positions
        assert all(inside[P + j] for j in rnd.positions), (name, rnd.positions)
        if method == "exception":
            assert rnd.lines == [2, 3]  # line 3 of the program (NameError) +- 1, clipped to the program
            lines = {j for j in rnd.positions if engine.tokenizer.decode([ids[j]]).strip()}
            assert lines and all(cand.offsets[j][0] >= cand.program.index("\n") for j in lines)


def _cli(model_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "repair.evaluate",
        "--model",
        str(model_dir),
        "--dataset",
        "humaneval",
        "--limit",
        "2",
        "--gen-length",
        "32",
        "--steps",
        "8",
        "--repair-steps",
        "4",
        "--budget-k",
        "8",
        "--rounds",
        "1",
        "--seeds",
        "0",
        "--strategies",
        "no-repair,trace-guided",
        "--workers",
        "1",
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.run(
        cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("arch", ["llada", "dream"])
def test_cli_scores_humaneval_with_the_chat_format(
    tiny_model_dir, tiny_dream_dir, tiny_tokenizer, tmp_path, arch
):
    """`python -m repair.evaluate --dataset humaneval --prompt-format chat` end to end on the local HumanEval+ copy;
    each row's program is the extraction of its recorded completion, and the report header names the format."""
    from data.problems import load_problems

    model_dir = tiny_model_dir if arch == "llada" else tiny_dream_dir
    proc = _cli(model_dir, tmp_path / "out", "--prompt-format", "chat")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["prompt_format"], config["extract"]) == ("chat", "think,fenced")
    assert "Evaluation format: prompt chat" in (tmp_path / "out" / "report.md").read_text()
    problems = {p.task_id: p for p in load_problems(dataset="humaneval")[:2]}
    for name in ("no-repair", "trace-guided"):
        rows = [
            json.loads(line)
            for line in (tmp_path / "out" / "runs" / f"{name}.seed0.jsonl").read_text().splitlines()
        ]
        assert sorted(r["task_id"] for r in rows) == sorted(problems)
        for r in rows:
            _, answer = EvalFormat("chat", ("think", "fenced")).encode(tiny_tokenizer, problems[r["task_id"]])
            assert r["program"] == answer.extract(r["completion"], []).program
            assert r["heldout"][1] > 0


def test_cli_refuses_a_chat_format_without_a_chat_template(tiny_model_dir, tmp_path):
    import shutil

    model = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, model)
    cfg = json.loads((model / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(cfg))
    for f in model.glob("chat_template.*"):
        f.unlink()
    proc = _cli(model, tmp_path / "out", "--prompt-format", "sft")
    assert proc.returncode == 2 and "chat template" in proc.stderr
    assert not (tmp_path / "out" / "config.json").exists()
