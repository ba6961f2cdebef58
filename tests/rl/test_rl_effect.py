"""scripts/bench/rl_effect.py: the paired statistics on known numbers, McNemar through repair.report's functions, a
resumed run that launches nothing and writes its summary and plot, and (slow) a real tiny end-to-end run."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("rl_effect", REPO / "scripts/bench/rl_effect.py")
rl_effect = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rl_effect)

RL = [{"step": 0, "probe/reward": 1.0, "probe/pass_rate": 0.25},
      {"step": 1, "reward": 1.0}, {"step": 2, "reward": 1.5, "probe/reward": 1.5, "probe/pass_rate": 0.5},
      {"step": 3, "reward": 2.0}]
CONTROL = [{"step": 0, "probe/reward": 1.0, "probe/pass_rate": 0.25},
           {"step": 1, "reward": 1.0}, {"step": 2, "reward": 1.0, "probe/reward": 1.0, "probe/pass_rate": 0.25},
           {"step": 3, "reward": 1.0}]


def _rows(passed: list[bool]) -> list[dict]:
    return [{"task_id": f"t/{i}", "passed": p} for i, p in enumerate(passed)]


def test_paired_differences_and_probe_curves_on_known_numbers():
    paired = rl_effect.paired_differences(RL, CONTROL)
    assert [(d["step"], d["diff"]) for d in paired] == [(1, 0.0), (2, 0.5), (3, 1.0)]  # step 0: probe only
    mean, se = rl_effect.mean_se([d["diff"] for d in paired])
    assert mean == pytest.approx(0.5) and se == pytest.approx(0.5 / math.sqrt(3))  # sd of (0, .5, 1) is 0.5
    assert math.isnan(rl_effect.mean_se([0.3])[1])
    curves = rl_effect.probe_curves(RL, CONTROL)
    assert [(c["step"], c["reward_rl"], c["reward_control"], c["pass_rl"]) for c in curves] == [
        (0, 1.0, 1.0, 0.25), (2, 1.5, 1.0, 0.5)]


def test_held_out_mcnemar_pools_the_seeds():
    """seed 0: after-only passes 3, before-only 1; seed 1: 2 and 0 -> pooled b = 5, c = 1, exact two-sided
    p = 2 * (1 + 6) / 64 (binomial(6, 1/2) tails at <= 1 and >= 5)."""
    before = {("no-repair", 0): _rows([True, False, False, False, True]),
              ("no-repair", 1): _rows([False, False, True])}
    after = {("no-repair", 0): _rows([True, True, True, True, False]),
             ("no-repair", 1): _rows([True, True, True])}
    h = rl_effect.held_out(before, after)
    assert h["seeds"] == [0, 1] and (h["mcnemar"]["b"], h["mcnemar"]["c"]) == (5, 1)
    assert h["mcnemar"]["p_exact"] == pytest.approx(14 / 64)
    assert (h["before"]["passed"], h["after"]["passed"], h["before"]["n"]) == (3, 7, 8)
    assert h["change_points"] == pytest.approx(50.0)


def _finished_out(out: Path) -> None:
    """What a finished run leaves: both launches' metrics and exports, both evaluations' rows, the eval problems."""
    for name, rows in (("rl", RL), ("control", CONTROL)):
        (out / name / "final" / "merged").mkdir(parents=True)
        (out / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name, passed in (("eval_before", [True, False, False]), ("eval_after", [True, True, False])):
        (out / name / "runs").mkdir(parents=True)
        (out / name / "runs" / "no-repair.seed0.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in _rows(passed)))
    (out / "eval.jsonl").write_text("{}\n{}\n{}\n")


def test_a_finished_run_is_resumed_without_launching(tmp_path, monkeypatch, capsys):
    _finished_out(tmp_path)

    def no_launch(*a, **k):
        raise AssertionError(f"nothing should run again: {a}")

    monkeypatch.setattr(rl_effect.subprocess, "run", no_launch)
    summary = rl_effect.main(["--model", "M", "--config", str(REPO / "configs/rl/tiny.yaml"), "--steps", "3",
                              "--out", str(tmp_path), "--num-gpus", "2", "--probe-prompts", "4", "optim.lr=0.05"])
    text = capsys.readouterr().out
    assert "paired reward difference rl - control [3 steps, 4 prompts x 4 rollouts a step, lr 0.05 vs 0]: " \
           "+0.500 +- 0.289" in text
    assert "before (M): 33.3% (1/3)" in text and "b = 1 (pass after RL only), c = 0" in text
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["paired_reward"]["n"] == 3 and written["held_out"]["mcnemar"]["p_exact"] == 1.0
    assert written["settings"]["overrides"] == ["optim.lr=0.05"] and summary["settings"]["probe_prompts"] == 4
    assert (tmp_path / "rl_effect.png").stat().st_size > 10_000


def test_launches_differ_only_in_lr_and_output(tmp_path):
    args = rl_effect.parse_args(["--model", "M", "--config", "C", "--out", str(tmp_path), "--steps", "7",
                                 "probe.every=3", "optim.lr=1e-4"])
    rl, control = rl_effect.launch_overrides(args, "rl"), rl_effect.launch_overrides(args, "control")
    assert rl[:6] == control[:6] == ["model=M", "max_steps=7", "probe.num_prompts=64", "probe.every=5",
                                     "probe.every=3", "optim.lr=1e-4"]  # the user's overrides come after ours
    assert control[-1] == "optim.lr=0.0" and rl[-1] == "export_merged=true"
    assert {o for o in rl + control if o.startswith("output_dir=")} == {
        f"output_dir={tmp_path / 'rl'}", f"output_dir={tmp_path / 'control'}"}
    assert not rl_effect.launch_done(tmp_path / "rl", 7)


@pytest.mark.slow
def test_tiny_end_to_end(tiny_model_dir, tmp_path):
    """Two 1-rank launches of rl/grpo.py and two repair.evaluate runs on the tiny model (~2-3 min on 2 busy cores)."""
    cmd = [sys.executable, "scripts/bench/rl_effect.py", "--model", str(tiny_model_dir), "--config",
           "configs/rl/tiny.yaml", "--steps", "2", "--num-gpus", "1", "--eval-num", "4", "--probe-prompts", "2",
           "--probe-every", "1", "--eval-workers", "1", "--out", str(tmp_path), "max_completion_length=16",
           "diffusion_steps=8", "block_length=16", "save_every=0", "use_wandb=false"]
    env = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [d["step"] for d in summary["paired_reward"]["steps"]] == [1, 2]
    assert summary["paired_reward"]["steps"][0]["diff"] == 0.0  # step 1: the same policy, prompts and seeds
    assert [c["step"] for c in summary["probe"]] == [0, 1, 2]
    assert summary["probe"][0]["reward_rl"] == summary["probe"][0]["reward_control"]
    assert summary["held_out"]["before"]["n"] == summary["held_out"]["after"]["n"] == 4
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("skipped") == 4
