"""minicode through the framework's own entry points: SFT on data.name=minicode lowers the loss, repair.evaluate reads
the CLI's problem file, and the main job's summary.json carries the models, the evaluate arguments and the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from train.config import load_config

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def minicode_sft(tiny_model_dir, tmp_path_factory) -> Path:
    """A short full fine-tune of the tiny model on minicode train problems (one rank, in process)."""
    from train import sft

    out = tmp_path_factory.mktemp("minicode-sft")
    cfg = load_config(sft.Config, ["--config", str(REPO / "configs/sft/minicode.yaml"), f"model={tiny_model_dir}",
                                   f"output_dir={out}", "data.max_examples=256", "micro_batch_size=8",
                                   "max_steps=40", "log_every=1", "optim.lr=3e-3", "use_wandb=false",
                                   "save_every=0"])  # 0: only the final checkpoint
    saved = dict(os.environ)
    try:
        sft.main(cfg)
    finally:  # a 1-rank run sets MASTER_PORT etc. for itself: later subprocesses must not inherit a port it holds
        os.environ.clear()
        os.environ.update(saved)
    return out


def test_sft_on_minicode_lowers_the_loss(minicode_sft):
    losses = [json.loads(line)["loss"] for line in (minicode_sft / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.75 * first, (first, last)
    assert (minicode_sft / "final" / "merged" / "config.json").exists()  # full fine-tune exports merged weights
    assert not list((minicode_sft / "checkpoints").glob("step_*"))  # save_final_state: false writes no optimizer state


def _evaluate(model: Path, problems: Path, out: Path) -> list[str]:
    args = ["--problems", str(problems), "--seeds", "0", "--limit", "3", "--gen-length", "16", "--block-length", "16",
            "--steps", "16", "--repair-steps", "4", "--budget-k", "4"]
    proc = subprocess.run([sys.executable, "-m", "repair.evaluate", "--model", str(model), *args,
                           "--strategies", "no-repair", "--out", str(out)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return args


def test_cli_problems_go_through_repair_evaluate_and_into_summary(minicode_sft, tmp_path):
    run = tmp_path / "run"
    problems = run / "eval.jsonl"
    run.mkdir()
    subprocess.run([sys.executable, "-m", "data.minicode", "--split", "eval", "--num", "5", "--seed", "3",
                    "--out", str(problems)], cwd=REPO, env=ENV, check=True)
    model = minicode_sft / "final" / "merged"
    args = _evaluate(model, problems, run / "eval")
    results = json.loads((run / "eval" / "results.json").read_text())
    assert results["strategies"]["no-repair"]["seeds"]["0"]["problems"] == 3

    os.symlink(minicode_sft, run / "sft")
    (run / "stages").mkdir()
    (run / "stages" / "sft").write_text("12\n")
    proc = subprocess.run([sys.executable, "-m", "minicode.report", "summary", str(run), "--sft-model",
                           str(model), "--rl-model", str(run / "rl/final/merged"), "--evaluate-args", *args],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["sft_model"] == str(model) and summary["rl_model"] == str(run / "rl/final/merged")
    assert summary["evaluate_args"] == args
    assert summary["eval"]["no-repair"]["problems"] == 3 and 0 <= summary["eval"]["no-repair"]["pass@1"] <= 100
    assert summary["sft"]["steps"] == 40 and summary["stage_seconds"] == {"sft": 12} and summary["total_seconds"] == 12
    assert "pass@1" in proc.stdout
