"""repair.loop / strategies / evaluate on the tiny model: positions passed to infill, fixed tokens, the feedback-only
decision rule, and the CLI end to end including a killed-and-resumed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from data.problems import problem_from_row, split_tests
from data.tiny_problems import TINY_PROBLEMS
from data.tokenize import line_token_positions
from repair.execution import Limits, ProblemResult, TestResult
from repair.loop import (
    Engine,
    LoopConfig,
    completion_offsets,
    error_type,
    generation_key,
    heldout_result,
    make_task,
)
from repair.strategies import MAIN, STRATEGIES, parse_strategies, run_strategy

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(timeout_per_test=2.0, timeout_per_problem=10.0, grace=0.5)
CFG = LoopConfig(steps=8, gen_length=32, block_length=32, threshold=None, repair_steps=4, budget_k=64, rounds=1)
MAIN_STRATEGIES = ",".join(MAIN)


class Spy:
    """Wraps engine.infill: records (sequence in, positions, sequence out) of every repair round."""

    def __init__(self, engine: Engine):
        self.calls, self._infill = [], engine.infill
        engine.infill = self

    def __call__(self, cands, positions, *args, **kw):
        made = self._infill(cands, positions, *args, **kw)
        self.calls += [(c, p.clone(), new) for c, p, (new, _) in zip(cands, positions, made)]
        return made


def _problem(tests=None):
    row = dict(TINY_PROBLEMS[0])  # add(a, b)
    return problem_from_row(dict(row, tests=tests) if tests else row, dataset="")


def _task_with(engine, problem, completion, pool, cfg=CFG, seed=0, conf=None):
    """A task whose stage-1 candidate is `completion` (injected into the generation cache)."""
    task = make_task(engine, problem, split_tests(problem).feedback, seed, limits=LIMITS, pool=pool)
    ids = engine.tokenizer(completion, add_special_tokens=False)["input_ids"]
    eos = engine.stop_ids[0]
    gen = torch.tensor([ids + [eos] * (cfg.gen_length - len(ids))])
    seq = torch.cat([task.prompt_ids, gen], dim=1)
    P = task.prompt_ids.shape[1]
    confs = torch.ones(seq.shape)
    confs[0, P:] = torch.linspace(0.05, 0.95, cfg.gen_length) if conf is None else conf
    cand = engine.candidate(seq, confs, P, task.prompt)
    assert cand.program == problem.prompt + completion
    task.cache[generation_key(cfg, cfg.temperature, 0)] = (cand, cfg.steps)
    return task, cand


# ---- pure pieces ----
def test_registry_and_paper_settings():
    assert sorted(parse_strategies("main,ablations")) == sorted(STRATEGIES)
    assert parse_strategies("trace-guided,trace-guided") == ["trace-guided"]
    with pytest.raises(ValueError):
        parse_strategies("core")
    paper = LoopConfig()
    cfg = {n: s.configure(paper) for n, s in STRATEGIES.items()}
    assert (cfg["global-low-confidence"].repair_steps, cfg["global-low-confidence"].rounds) == (32, 1)
    assert (cfg["best-of-2"].steps, cfg["best-of-2"].samples) == (80, 2)
    assert cfg["trace-guided"] == paper and cfg["wide-window"].window == 5
    assert (cfg["s8"].repair_steps, cfg["s16"].repair_steps, cfg["random-in-region"].selection) == (8, 16, "random")


def test_core_posthoc_scores_by_perturbation_counts_every_pass_and_is_in_table2(engine, pool, tmp_path):
    """Issue 13.11 (the post-hoc CORE, kept to compare with core-reimpl): NFE = N + scoring passes + infill steps;
    the remasked tokens are the K largest drops c_i - mean p_i of the completion's tokens (recomputed here from the
    same masks); the report shows it with the ablations."""
    from repair.core import instability, perturbation_masks
    from repair.loop import global_candidates, initial
    from repair.report import render

    cfg = replace(STRATEGIES["core-posthoc"].configure(CFG), budget_k=5)
    assert (cfg.repair_steps, cfg.core_perturbations) == (8, 4)
    task = make_task(engine, _problem(), split_tests(_problem()).feedback, 0, limits=LIMITS, pool=pool)
    (out,) = STRATEGIES["core-posthoc"].run(engine, [task], cfg)
    (rnd,) = out.rounds
    assert rnd.method == "core" and len(rnd.positions) == 5
    assert out.nfe == CFG.steps + 4 + min(8, 5) and rnd.nfe == 4 + min(8, 5)
    cand = initial(engine, [task], cfg)[0][0][0]
    within = global_candidates(cand, cfg.global_scope)[0]
    passes = perturbation_masks([task], [within], cfg, engine)
    assert all(not (a[0] & b[0]).any() and torch.equal(a[0] | b[0], within) for a, b in zip(passes[::2], passes[1::2]))
    # by hand: one pass = one masked forward; probability of the original token at the hidden positions
    seq, drop = cand.sequence, torch.zeros(within.shape)
    for (m,) in passes:
        with torch.no_grad():
            logits = engine.model(input_ids=seq.masked_fill(m[None], engine.mask_id)).logits[0].float()
        p = torch.softmax(logits, -1).gather(-1, seq[0][:, None]).squeeze(-1)
        drop[m] += cand.confidences[0][m] - p[m]
    (d,) = instability(engine, [seq[0]], [cand.confidences[0]], [within], passes)
    torch.testing.assert_close(d[within], drop[within] / 2, atol=1e-5, rtol=1e-4)
    assert sorted(rnd.positions) == sorted((d.topk(5).indices - cand.prompt_len).tolist())
    row = {"task_id": "t", "passed": False, "nfe": out.nfe, "seconds": 0.0, "rounds": [asdict(rnd)],
           "initial_tokens": [], "final_tokens": [1], "error_type": None}
    text, _ = render({("core-posthoc", 0): [row]}, {"dataset": "mbpp", "steps": 8})
    table2 = text.split("## Table 2")[1].split("##")[0]
    assert f"| core-posthoc | 0.00 ± 0.00 | 0 | {out.nfe:.1f} |" in table2


def test_error_type_of_initial_failure():
    def res(*tests):
        return ProblemResult("t", "x", 0, len(tests), list(tests))

    assert error_type(res(TestResult(0, "pass"))) is None
    assert error_type(res(TestResult(0, "error", "SyntaxError"), TestResult(1, "error", "SyntaxError"))) == "syntax"
    assert error_type(res(TestResult(0, "fail"), TestResult(1, "error", "ZeroDivisionError"))) == "runtime"
    assert error_type(res(TestResult(0, "fail"), TestResult(1, "timeout"))) == "runtime"
    assert error_type(res(TestResult(0, "fail"), TestResult(1, "error", "AssertionError"))) == "assertion"


def test_completion_offsets_tile_program(tiny_tokenizer):
    prompt, completion = "def f(x):\n", "    y = 'é€'\n    return x + 1\n"
    ids = tiny_tokenizer(completion, add_special_tokens=False)["input_ids"]
    text, offsets = completion_offsets(tiny_tokenizer, ids, len(prompt))
    assert text == completion and offsets[0][0] == len(prompt) and offsets[-1][1] == len(prompt + completion)
    assert all(a[1] == b[0] for a, b in zip(offsets, offsets[1:]))  # contiguous, no gaps
    line3 = line_token_positions(offsets, prompt + completion, {3})
    assert "return" in tiny_tokenizer.decode([ids[i] for i in line3])


# ---- the loop on the tiny model ----
def test_trace_guided_remasks_only_localized_lines_and_keeps_the_rest(engine, pool):
    problem = _problem()
    task, cand = _task_with(engine, problem, "    x = 1\n    return a + undefined_name\n", pool)
    spy = Spy(engine)
    try:
        out = run_strategy("trace-guided", engine, [task], CFG)[0]
        (rnd,) = out.rounds
        assert (rnd.method, rnd.lines) == ("exception", [3, 4])  # NameError on line 4, +-1, clipped
        region = line_token_positions(cand.offsets, cand.program, set(rnd.lines))
        before, positions, after = spy.calls[0]
        P = cand.prompt_len
        assert sorted(rnd.positions) == region == (positions[0].nonzero().flatten() - P).tolist()  # |I| <= K
        assert torch.equal(before.sequence[~positions], after.sequence[~positions])  # fixed tokens unchanged
        assert out.nfe == CFG.steps + rnd.nfe and rnd.nfe == min(CFG.repair_steps, len(region))

        # K smaller than the region: the K lowest-confidence tokens inside it (confidence rises with position)
        task, cand = _task_with(engine, problem, "    x = 1\n    return a + undefined_name\n", pool)
        out = run_strategy("trace-guided", engine, [task], replace(CFG, budget_k=3))[0]
        assert out.rounds[0].positions == region[:3]
        _, positions, after = spy.calls[-1]
        assert torch.equal(cand.sequence[~positions], after.sequence[~positions])
    finally:
        del engine.infill


def test_syntax_error_remasks_the_completion_tokens_of_its_line_plus_minus_w(engine, pool):
    """Issue 29.1: lines are lines of prompt + completion (the prompt here is lines 1-2); a syntax error on program
    line k remasks the completion's tokens of k +- w, and a window reaching into the prompt selects no prompt token."""
    problem = _problem()
    assert problem.prompt.count("\n") == 2
    spy = Spy(engine)
    try:
        completion = "    x = 1\n    z = 2\n    y = a +\n    w = 3\n    return y\n"  # program lines 3-7; 5 is bad
        task, cand = _task_with(engine, problem, completion, pool)
        (rnd,) = run_strategy("trace-guided", engine, [task], CFG)[0].rounds
        assert (rnd.method, rnd.lines) == ("syntax", [4, 5, 6])
        region = line_token_positions(cand.offsets, cand.program, {4, 5, 6})
        assert sorted(rnd.positions) == region and region  # not all of the completion: lines 3 and 7 stay
        text = engine.tokenizer.decode([cand.completion_ids[i] for i in region])
        assert "z = 2" in text and "y = a +" in text and "w = 3" in text and "x = 1" not in text and "return" not in text
        _, positions, _ = spy.calls[-1]
        assert not positions[0, : cand.prompt_len].any()

        task, cand = _task_with(engine, problem, "    return a +\n", pool)  # k = 3: the window's line 2 is prompt
        (rnd,) = run_strategy("trace-guided", engine, [task], CFG)[0].rounds
        assert (rnd.method, rnd.lines) == ("syntax", [2, 3])
        assert sorted(rnd.positions) == line_token_positions(cand.offsets, cand.program, {3})
        assert not spy.calls[-1][1][0, : cand.prompt_len].any()
    finally:
        del engine.infill


def test_trace_reading_reaches_the_loop(engine, pool):
    """Issue 29.2: LoopConfig.trace_reading (default 'events') is the reading the loop localizes with."""
    problem = _problem()
    completion = "    t = a\n    u = b\n    for _ in range(12):\n        t += 1\n    return t\n"  # wrong: a + 12
    picked = {}
    for reading in ("events", "distinct"):
        task, _ = _task_with(engine, problem, completion, pool)
        (rnd,) = run_strategy("trace-guided", engine, [task], replace(CFG, trace_reading=reading))[0].rounds
        picked[reading] = (rnd.method, rnd.lines)
    assert LoopConfig().trace_reading == "events"
    assert picked == {"events": ("assertion", [5, 6, 7]), "distinct": ("assertion", [3, 4, 5, 6, 7])}


def test_global_low_confidence_remasks_k_lowest_generated_tokens(engine, pool):
    conf = torch.rand(CFG.gen_length, generator=torch.Generator().manual_seed(3))
    task, cand = _task_with(engine, _problem(), "    return a +\n", pool, conf=conf)
    out = run_strategy("global-low-confidence", engine, [task], replace(CFG, budget_k=5, global_scope="all"))[0]
    (rnd,) = out.rounds
    assert rnd.method == "global" and sorted(rnd.positions) == sorted(conf.argsort()[:5].tolist())
    assert rnd.nfe == 5  # min(S = 32, 5 masked tokens): the sampler skips steps with nothing to commit


def test_global_scope_completion_never_selects_post_eos_padding(engine, pool):
    """Issue 13.7: the padding after the first EOS has the lowest confidences here; `completion` (default) selects
    only program tokens and the EOS, `all` (the paper's literal "entire output") takes the padding."""
    completion = "    return a +\n"
    n = len(engine.tokenizer(completion, add_special_tokens=False)["input_ids"])
    conf = torch.linspace(0.95, 0.05, CFG.gen_length)  # falls with position: the padding is least confident
    assert LoopConfig().global_scope == "completion"
    picked = {}
    for scope in ("completion", "all"):
        task, _ = _task_with(engine, _problem(), completion, pool, conf=conf)
        out = run_strategy("global-low-confidence", engine, [task], replace(CFG, budget_k=4, global_scope=scope))[0]
        picked[scope] = sorted(out.rounds[0].positions)
    assert picked["completion"] == list(range(n + 1 - 4, n + 1))  # the last program tokens and the EOS at index n
    assert picked["all"] == list(range(CFG.gen_length - 4, CFG.gen_length))


def test_decisions_use_feedback_tests_only(engine, pool, monkeypatch):
    """Two problems that differ only in their held-out tests get identical decisions; the loop never runs them."""
    import repair.loop as loop

    probe = _problem(["assert add(1, 2) == 3"] * 5)
    fb = split_tests(probe).feedback
    good = ["assert add(1, 2) == 3" if i in fb else f"assert add({i}, 1) == {i + 1}" for i in range(5)]
    bad = ["assert add(1, 2) == 3" if i in fb else f"assert add({i}, 1) == {i + 7}" for i in range(5)]
    seen: list[list[int]] = []
    real = loop.run_tests

    def recording(problem, program, indices=None, **kw):
        seen.append(list(indices))
        return real(problem, program, indices, **kw)

    monkeypatch.setattr(loop, "run_tests", recording)
    cfg = replace(CFG, rounds=2)
    for completion, rounds in (("    return a + b\n", 0), ("    return a - b\n", 2)):
        outs, held = [], []
        for tests in (good, bad):
            problem = _problem(tests)
            task, _ = _task_with(engine, problem, completion, pool, cfg=cfg)
            seen.clear()
            outs.append(run_strategy("trace-guided", engine, [task], cfg)[0])
            assert seen and all(set(ix) <= set(fb) for ix in seen)  # only T_fb ran during the loop
            held.append(heldout_result(problem, split_tests(problem).heldout, outs[-1].final.program,
                                       limits=LIMITS, pool=pool))
        a, b = outs
        assert len(a.rounds) == rounds and [asdict(r) for r in a.rounds] == [asdict(r) for r in b.rounds]
        assert a.final.program == b.final.program and a.nfe == b.nfe
        if rounds == 0:  # passes feedback: stops at once, whatever held-out says
            assert (held[0].status, held[1].status) == ("pass", "fail")


# ---- the CLI ----
def _kill_then_resume(args: list[str], out: Path, n_problems: int, strategies: list[str]) -> None:
    cmd = [sys.executable, "-m", "repair.evaluate", *args, "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(out.parent / f"{out.name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.stat().st_size for p in (out / "runs").glob("parts/*.jsonl")):  # rows stream to rank parts
            break
        time.sleep(0.1)
    assert proc.poll() is None, f"finished before it could be killed: {(out.parent / f'{out.name}.log').read_text()}"
    proc.kill()  # SIGKILL: no cleanup, as in a crash
    proc.wait()
    partial = {p.name: len(p.read_text().splitlines()) for p in (out / "runs").glob("parts/*.jsonl")}
    assert sum(partial.values()) < n_problems * len(strategies)
    subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=900)
    for name in strategies:
        rows = [json.loads(line) for line in (out / "runs" / f"{name}.seed0.jsonl").read_text().splitlines()]
        assert len(rows) == n_problems == len({r["task_id"] for r in rows})  # complete, no duplicates
        assert all(r["nfe"] > 0 and r["heldout"][1] > 0 for r in rows)
    for name in ("results.json", "report.md", "figure2_localization.png", "figure3_edit_distance.png", "config.json"):
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["strategies"]) == sorted(strategies)
    assert all(s["seeds"]["0"]["problems"] == n_problems for s in results["strategies"].values())


def test_cli_small_run_killed_and_resumed(tiny_model_dir, tmp_path):
    args = ["--model", str(tiny_model_dir), "--dataset", "mbpp", "--limit", "2", "--gen-length", "32",
            "--steps", "8", "--repair-steps", "4", "--budget-k", "8", "--rounds", "2", "--seeds", "0",
            "--strategies", MAIN_STRATEGIES, "--workers", "1"]
    _kill_then_resume(args, tmp_path / "out", 2, MAIN)
    # the report entry point regenerates the same tables from the jsonl files alone
    before = json.loads((tmp_path / "out" / "results.json").read_text())
    (tmp_path / "out" / "report.md").unlink()
    subprocess.run([sys.executable, "-m", "repair.report", "--out", str(tmp_path / "out")], cwd=REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, timeout=120)
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == before
    assert (tmp_path / "out" / "report.md").exists()


@pytest.mark.slow
def test_cli_tiny_mbpp_six_problems_killed_and_resumed(tiny_model_dir, tmp_path):
    args = ["--model", str(tiny_model_dir), "--dataset", "mbpp", "--limit", "6", "--gen-length", "64",
            "--steps", "16", "--repair-steps", "8", "--budget-k", "16", "--seeds", "0",
            "--strategies", MAIN_STRATEGIES, "--workers", "1"]
    _kill_then_resume(args, tmp_path / "out", 6, MAIN)


def test_stage1_takes_exactly_n_steps_and_threshold_is_a_labelled_fast_mode(tiny_model_dir, tmp_path):
    """Issue 13.1: the default stage 1 is the paper's fixed N steps (no-repair NFE exactly N); the threshold is opt-in
    and the report says FAST MODE."""
    from repair.evaluate import main

    args = ["--model", str(tiny_model_dir), "--dataset", "mbpp", "--limit", "2", "--gen-length", "32",
            "--steps", "16", "--seeds", "0", "--strategies", "no-repair", "--workers", "1"]
    main(args + ["--out", str(tmp_path / "fixed")])
    rows = [json.loads(x) for x in (tmp_path / "fixed" / "runs" / "no-repair.seed0.jsonl").read_text().splitlines()]
    assert [r["nfe"] for r in rows] == [16, 16]
    assert json.loads((tmp_path / "fixed" / "config.json").read_text())["threshold"] is None
    report = (tmp_path / "fixed" / "report.md").read_text()
    assert "fixed N = 16" in report and "FAST MODE" not in report and "selection scope: **completion**" in report
    assert "trace reading: **events**" in report and "Syntax errors: **localized**" in report
    assert json.loads((tmp_path / "fixed" / "config.json").read_text())["trace_reading"] == "events"
    main(args + ["--threshold", "0.5", "--out", str(tmp_path / "fast")])
    assert "FAST MODE" in (tmp_path / "fast" / "report.md").read_text()


def test_a_call_style_row_without_entry_point_is_refused_before_any_model_runs(tmp_path, tiny_model_dir):
    """Issue 29.6: refused by FILE:LINE in the input checks: nothing is loaded and OUT is not written."""
    from data.usage import UsageError
    from repair.evaluate import main

    path = tmp_path / "p.jsonl"
    rows = [dict(TINY_PROBLEMS[0]), {"task_id": "t/no-entry", "prompt": "def f(x):\n", "base_input": [[1]]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UsageError, match=f"{path}:2: .*no 'entry_point'.*t/no-entry"):
        main(["--model", str(tiny_model_dir), "--problems", str(path), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_max_trace_lines_must_be_positive(tmp_path):
    """M = 0 used to take every traced line ([-0:] is the whole list)."""
    from data.usage import UsageError
    from repair.evaluate import main

    with pytest.raises(UsageError, match="--max-trace-lines must be >= 1, got 0"):
        main(["--model", "x", "--dataset", "mbpp", "--max-trace-lines", "0", "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_greedy_stage1_runs_once_per_problem_for_all_seeds_with_the_rows_of_a_single_seed_run(
    tiny_model_dir, tmp_path, monkeypatch
):
    """A greedy stage 1 does not depend on the seed: an evaluation at seeds 0,1 generates it once per problem (not
    once per seed), and seed 1's rows equal those of a run at seed 1 alone; sampled generations stay per seed."""
    from repair.evaluate import main

    calls = []
    generate = Engine.generate

    def counting(self, tasks, cfg, steps, temperature, generators, revise=None):
        calls.extend((t.task_id, t.seed, temperature) for t in tasks)
        return generate(self, tasks, cfg, steps, temperature, generators, revise)

    monkeypatch.setattr(Engine, "generate", counting)
    args = ["--model", str(tiny_model_dir), "--dataset", "mbpp", "--limit", "3", "--gen-length", "32", "--steps",
            "8", "--repair-steps", "4", "--budget-k", "8", "--rounds", "1", "--workers", "1",
            "--strategies", "no-repair,trace-guided,best-of-2"]
    main(args + ["--seeds", "0,1", "--out", str(tmp_path / "both")])
    greedy = [c for c in calls if c[2] == 0]
    assert len(greedy) == 3 and len({task for task, _, _ in greedy}) == 3
    sampled = {(task, seed) for task, seed, t in calls if t > 0}
    assert {seed for _, seed in sampled} == {0, 1}  # best-of-2 samples at each seed
    calls.clear()
    main(args + ["--seeds", "1", "--out", str(tmp_path / "one")])
    keys = ("task_id", "passed", "initial_tokens", "final_tokens", "nfe")
    for name in ("no-repair", "trace-guided", "best-of-2"):
        rows = [[{k: json.loads(x)[k] for k in keys} for x in (tmp_path / d / "runs" / f"{name}.seed1.jsonl")
                 .read_text().splitlines()] for d in ("both", "one")]
        assert sorted(rows[0], key=str) == sorted(rows[1], key=str), name
