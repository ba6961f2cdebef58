"""The wiring of `bash scripts/minicode.sh --full` end to end with tiny overrides (numbers meaningless): every stage
runs through its real entry point, report.md has the five sections, and a rerun skips every finished stage.

Slow (~15-20 min on 2 cores): `pytest -m slow tests/minicode/test_full_wiring.py`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "SFT_ARGS": "max_steps=2 data.max_examples=256",
    "RL_ARGS": "max_steps=1 probe.num_prompts=4",
    "EVAL_NUM": "8",
    "CF_TRAIN": "8",
    "CF_TEST": "8",
    "ARNESS_NUM": "4",
    "TD_SEEDS": "0",
    "RL_SEEDS": "0",
    "CF_SEEDS": "0",
    "THRESHOLDS": "0.9",
    "WANDB_MODE": "disabled",
    "MASTER_PORT": "29731",
}


def _minicode(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    """README command 1's script (scripts/minicode.sh ARGS) as a user runs it, output captured."""
    return subprocess.run(["bash", "scripts/minicode.sh", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_full_runs_every_stage_writes_five_sections_and_resumes(tmp_path):
    run = tmp_path / "full"
    env = {**os.environ, **TINY}
    proc = _minicode(["--full", str(run)], env, timeout=2400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    md = (run / "report.md").read_text()
    assert [line.split(".")[0] for line in md.splitlines() if line.startswith("## ")] == [
        "## 1",
        "## 2",
        "## 3",
        "## 4",
        "## 5",
    ]
    stages = {p.name for p in (run / "stages").iterdir()}
    assert {
        "td-base",
        "td-uniform-s0",
        "td-ast-s0",
        "td-ast-span-s0",
        "tier-ce",
        "trace",
        "rl-coupled-s0",
        "rl-independent-s0",
        "rl-d1-s0",
        "arness",
        "fast-curve",
        "codefusion",
    } <= stages
    for out in ("eval-td-ast-s0", "eval-rl-d1-s0", "fast-plain", "fast-dual-0.9", "fast-prefix-0.9"):
        assert (run / out / "results.json").exists(), out
    assert (run / "tier_ce-s0.json").exists() and (run / "arness-rl.json").exists()
    assert (run / "cf_resume_repair-sft-rule-s0_on_rule.jsonl.summary.json").exists()  # rule pairs always exist
    again = _minicode(["--full", str(run)], env, timeout=600)
    assert again.returncode == 0 and again.stdout.count("skipped ===") >= len(stages), again.stdout[-3000:]


@pytest.mark.slow
def test_main_job_runs_its_six_stages_writes_the_summary_and_resumes(tmp_path):
    """README command 1's script with tiny overrides (~3 min): the six stages (three of them from minicode/lib.sh,
    shared with --full), summary.json naming the RL model with its paired gain, and a rerun that skips them all."""
    run = tmp_path / "main"
    env = {**os.environ, **{k: TINY[k] for k in ("SFT_ARGS", "RL_ARGS", "EVAL_NUM", "WANDB_MODE", "MASTER_PORT")}}
    for _ in range(2):
        proc = _minicode([str(run)], env, timeout=1200)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.count("skipped ===") == 6
    assert {p.name for p in (run / "stages").iterdir()} == {"model", "sft", "eval", "rl", "synth", "fast"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["rl_model"] == str(run / "rl/final/merged") and summary["rl_gain"]["problems"] == 8


def test_stage_runs_a_function_with_its_arguments_once(tmp_path):
    """minicode/lib.sh's stage: FUNCTION ARGS run once, the marker holds the seconds, a rerun skips it."""
    script = (
        "set -euo pipefail; RUN=$1; NGPU=1; . minicode/lib.sh\n"
        'arm() { echo "$1|$2" >> "$RUN/calls"; }\n'
        'stage td-ast-s1 "an arm" arm ast 1\n'
    )
    for _ in range(2):
        proc = subprocess.run(
            ["bash", "-c", script, "bash", str(tmp_path)], cwd=REPO, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "calls").read_text() == "ast|1\n"
    assert (tmp_path / "stages" / "td-ast-s1").read_text().strip().isdigit() and "skipped" in proc.stdout
