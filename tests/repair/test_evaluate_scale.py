"""Evaluation at scale gives the rows of the plain run: batched (B = 4 vs 1), data-parallel (2 ranks vs 1, torchrun),
and a killed 2-rank run (deepspeed launcher) resumed with another number of ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from data.problems import problem_from_row, split_tests
from data.tiny_problems import TINY_PROBLEMS
from data.usage import UsageError
from repair.execution import Limits, SandboxPool
from repair.loop import Engine, LoopConfig, make_task
from repair.strategies import run_strategy

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(timeout_per_test=2.0, timeout_per_problem=10.0, grace=0.5)
# tau = 0.2 repair sampling and best-of-2's sampled stage 1: every random draw of the loop is exercised.
CFG = LoopConfig(steps=8, gen_length=32, block_length=32, repair_steps=4, budget_k=16, rounds=2)


def _outcome_view(o) -> dict:
    return {"initial": o.initial.program, "final": o.final.program, "nfe": o.nfe, "tokens": o.final.completion_ids,
            "rounds": [asdict(r) for r in o.rounds], "feedback": (o.final_feedback.passed, o.final_feedback.status)}


def test_batch_of_four_gives_the_rows_of_batch_size_one(tiny_model_dir):
    """Prompts of different lengths (left padding), repair at tau = 0.2, best-of-2 sampling: identical rows."""
    from inference.loading import load_model

    engine = Engine.from_loaded(load_model(tiny_model_dir, device="cpu"))
    problems = [problem_from_row(dict(r), dataset="") for r in TINY_PROBLEMS[:4]]
    assert len({len(engine.encode(p.prompt)[0]) for p in problems}) > 1

    def tasks():
        return [make_task(engine, p, split_tests(p).feedback, 0, limits=LIMITS, pool=pool) for p in problems]

    with SandboxPool(1) as pool:
        for name in ("trace-guided", "best-of-2"):
            alone = [run_strategy(name, engine, [t], CFG)[0] for t in tasks()]
            batched = run_strategy(name, engine, tasks(), CFG)
            assert [_outcome_view(o) for o in batched] == [_outcome_view(o) for o in alone], name
            if name == "trace-guided":
                assert any(o.rounds for o in alone)  # the repair path ran (the random model fails its tests)


# ---- the CLI on 1 and 2 ranks ----
ARGS = ["--gen-length", "32", "--steps", "8", "--repair-steps", "4", "--budget-k", "8", "--rounds", "2",
        "--seeds", "0", "--strategies", "no-repair,trace-guided", "--workers", "1", "--batch-size", "2"]
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("problems") / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TINY_PROBLEMS[:5]))
    return path


@pytest.fixture(scope="module")
def one_rank(tiny_model_dir, problems_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-rank") / "out"
    cmd = [sys.executable, "-m", "repair.evaluate", "--model", str(tiny_model_dir), "--problems", str(problems_file),
           *ARGS, "--overlap", "1", "--out", str(out)]  # sequential tests: the reference rows
    subprocess.run(cmd, cwd=REPO, env=ENV, check=True, capture_output=True, timeout=600)
    return out


def _rows(out: Path) -> dict[str, list[dict]]:
    """Every run file's rows in file order, wall times aside."""
    runs = {}
    for path in sorted((out / "runs").glob("*.jsonl")):
        runs[path.name] = [{k: v for k, v in json.loads(x).items() if k != "seconds"}
                           for x in path.read_text().splitlines()]
    return runs


def test_two_ranks_give_the_rows_of_one(tiny_model_dir, problems_file, one_rank, tmp_path, master_port):
    """2 ranks with overlapped tests (--overlap 2, the default) vs 1 rank with sequential tests: the same rows."""
    out = tmp_path / "out"
    cmd = ["torchrun", "--nproc_per_node", "2", "--master_port", str(master_port()), "-m", "repair.evaluate",
           "--model", str(tiny_model_dir), "--problems", str(problems_file), *ARGS, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not list((out / "runs" / "parts").glob("*.jsonl"))  # rank 0 merged the parts
    rows = _rows(out)
    assert rows == _rows(one_rank) and [len(r) for r in rows.values()] == [5, 5]
    assert json.loads((out / "config.json").read_text())["ranks"] == 2


def test_killed_two_rank_run_resumes_with_one_rank(tiny_model_dir, problems_file, one_rank, tmp_path, master_port):
    """deepspeed launcher, 2 ranks, SIGKILLed (launcher group) after rank 0's first row; a 1-rank rerun completes it."""
    out = tmp_path / "out"
    cmd = ["deepspeed", "--num_gpus", "2", "--master_port", str(master_port()), "tests/repair/evaluate_killed_after.py",
           "--model", str(tiny_model_dir), "--problems", str(problems_file), *ARGS, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(ENV, KILL_AFTER_ROWS="1"), capture_output=True, text=True,
                          timeout=600, start_new_session=True)
    assert proc.returncode != 0
    parts = list((out / "runs" / "parts").glob("*.rank*.jsonl"))
    written = sum(len(p.read_text().splitlines()) for p in parts)
    assert 1 <= written < 10 and not (out / "report.md").exists(), proc.stdout[-3000:]
    resume = [sys.executable, "-m", "repair.evaluate", "--model", str(tiny_model_dir), "--problems",
              str(problems_file), *ARGS, "--out", str(out)]
    proc = subprocess.run(resume, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _rows(out) == _rows(one_rank)
    results = json.loads((out / "results.json").read_text())
    assert all(s["seeds"]["0"]["problems"] == 5 for s in results["strategies"].values())


def test_config_allows_another_batch_size_but_not_other_settings(tmp_path):
    from repair.evaluate import parse_args, record_config

    base = ["--model", "m", "--dataset", "mbpp", "--out", str(tmp_path)]
    record_config(parse_args(base), base)
    record_config(parse_args(base + ["--batch-size", "8", "--overlap", "2"]), base)
    with pytest.raises(UsageError, match="other settings"):
        record_config(parse_args(base + ["--steps", "64"]), base)


def test_config_equality_is_the_loop_config():
    assert replace(CFG) == CFG  # frozen dataclass: strategies derive variants without mutating the base
