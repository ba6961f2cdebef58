"""repair.evaluate end to end on the tiny Dream model: generation, trace-guided infill and the report, unchanged code."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STRATEGIES = ["no-repair", "global-low-confidence", "best-of-2", "trace-guided"]


def test_cli_runs_on_dream(tiny_dream_dir, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "repair.evaluate", "--model", str(tiny_dream_dir), "--dataset", "mbpp", "--limit", "1",
           "--gen-length", "32", "--steps", "8", "--repair-steps", "4", "--budget-k", "8", "--rounds", "1",
           "--seeds", "0", "--strategies", ",".join(STRATEGIES), "--workers", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    for name in STRATEGIES:
        (row,) = [json.loads(line) for line in (out / "runs" / f"{name}.seed0.jsonl").read_text().splitlines()]
        assert row["nfe"] > 0 and row["heldout"][1] > 0
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["strategies"]) == sorted(STRATEGIES)
    assert json.loads((out / "config.json").read_text())["model"] == str(tiny_dream_dir)


def test_cli_runs_on_the_hub_layout_of_the_dream_tokenizer(hub_dream_dir, tmp_path):
    """repair.evaluate on a Dream directory with the Hub's slow-tokenizer files (no tokenizer.json)."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "repair.evaluate", "--model", str(hub_dream_dir), "--dataset", "mbpp", "--limit",
           "1", "--gen-length", "16", "--steps", "4", "--repair-steps", "4", "--budget-k", "4", "--rounds", "1",
           "--seeds", "0", "--strategies", "no-repair,trace-guided", "--workers", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["strategies"]) == ["no-repair", "trace-guided"]
