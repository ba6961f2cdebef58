"""The main job's RL headline: the RL model's no-repair pass@1 beside the SFT model's on the same problems, with the
McNemar test on the discordant problems (minicode.figures.paired_gain), hand-counted."""

import json
from pathlib import Path

from minicode.figures import paired_gain


def _write(out: Path, passed: list[bool], seed: int = 0, strategy: str = "no-repair") -> None:
    path = out / "runs" / f"{strategy}.seed{seed}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"task_id": f"t{i}", "passed": p}) + "\n" for i, p in enumerate(passed)))


def test_paired_gain_counts_discordant_problems_by_hand(tmp_path):
    before = [True, True, False, False, False, True, False, False, False, False]  # 3 / 10
    after = [True, False, True, True, True, True, True, False, False, False]  # 6 / 10
    _write(tmp_path / "sft", before)
    _write(tmp_path / "rl", after)
    _write(tmp_path / "rl", [True] * 10, strategy="trace-guided")  # another strategy is not counted
    g = paired_gain(tmp_path / "sft", tmp_path / "rl")
    assert (g["before"], g["after"], g["change_points"], g["problems"]) == (30.0, 60.0, 30.0, 10)
    assert (g["b"], g["c"]) == (4, 1)  # t2, t3, t4, t6 pass after only; t1 before only
    assert abs(g["p_exact"] - 0.375) < 1e-9  # two-sided binomial, 5 discordant: 2 * (1 + 5) / 32


def test_paired_gain_pools_seeds_and_needs_both_runs(tmp_path):
    for seed in (0, 1):
        _write(tmp_path / "sft", [False, False], seed)
        _write(tmp_path / "rl", [True, False], seed)
    g = paired_gain(tmp_path / "sft", tmp_path / "rl")
    assert (g["b"], g["c"], g["seeds"], g["after"]) == (2, 0, [0, 1], 50.0)
    assert paired_gain(tmp_path / "sft", tmp_path / "missing") is None
