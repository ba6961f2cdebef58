"""The --full report's statistics and tables on hand-made run directories (what minicode/full.sh's entry points write)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from minicode import full_tables
from minicode.stats import Z_ALPHA, Z_POWER, diff_cell, interval, min_detectable_difference, paired_difference


def write_eval(out, passed_by_key: dict[tuple[str, int], list[bool]], nfe: float = 96.0) -> None:
    """A repair.evaluate --out: runs/<strategy>.seed<seed>.jsonl, results.json and config.json."""
    from repair.report import summarize
    from repair.run_files import load_runs

    (out / "runs").mkdir(parents=True, exist_ok=True)
    for (strategy, seed), passed in passed_by_key.items():
        rows = [
            {
                "task_id": f"t{i}",
                "passed": p,
                "nfe": nfe,
                "seconds": 0.5,
                "error_type": None if p else "assertion",
                "rounds": [],
            }
            for i, p in enumerate(passed)
        ]
        (out / "runs" / f"{strategy}.seed{seed}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    (out / "results.json").write_text(json.dumps({"strategies": summarize(load_runs(out))}))
    (out / "config.json").write_text(
        json.dumps({"gen_length": 96, "command": "python -m repair.evaluate ..."})
    )


def test_interval_mean_per_seed_and_degenerate_bounds():
    m = np.array([[1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 1, 0]], dtype=float)
    e = interval(m)
    assert e["mean"] == pytest.approx(100 * 6 / 12) and e["per_seed"] == pytest.approx([50.0, 75.0, 25.0])
    assert e["lo"] <= e["mean"] <= e["hi"] and (e["seeds"], e["problems"]) == (3, 4)
    ones = interval(np.ones((3, 5)))
    assert (ones["lo"], ones["hi"]) == (100.0, 100.0)


def test_paired_difference_counts_discordant_pairs_and_keeps_the_pairing():
    a = np.array([[1, 0, 0, 1], [1, 0, 0, 0]], dtype=float)
    b = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=float)
    d = paired_difference(a, b)
    # b only: (0,1), (0,2), (1,1) = 3; a only: (0,3) = 1; exact two-sided binomial p of 3 vs 1 = 0.625
    assert (d["b"], d["c"], d["pairs"]) == (3, 1, 8) and d["p"] == pytest.approx(0.625)
    assert d["diff"] == pytest.approx(100 * 2 / 8) and d["lo"] <= d["diff"] <= d["hi"]
    same = paired_difference(a, a)
    assert (same["diff"], same["lo"], same["hi"], same["p"]) == (0.0, 0.0, 0.0, 1.0)
    assert diff_cell(d) == "+25.0 [" + f"{d['lo']:+.1f}, {d['hi']:+.1f}]; McNemar 3 / 1, p = 0.625; detectable " + (
        f"{d['mdd']:.1f}")
    assert diff_cell(same) == "+0.0; the same outcome on all 8 (seed, problem) pairs"  # not 'McNemar 0 / 0, nan'
    with pytest.raises(ValueError, match="same seeds x problems"):
        paired_difference(a, b[:, :3])


def test_min_detectable_difference_solves_the_mcnemar_power_equation():
    # 1,200 pairs, 20% discordant: delta0 = 2.8016 sqrt(0.2 / 1200) = 3.617 points; the fixed point is 3.613
    assert min_detectable_difference(1200, 0.2) == pytest.approx(3.613, abs=2e-3)
    d, n = 2 * 0.45 * 0.55, 1200
    delta = min_detectable_difference(n, d) / 100
    assert n * delta**2 == pytest.approx((Z_ALPHA * math.sqrt(d) + Z_POWER * math.sqrt(d - delta**2)) ** 2)
    assert 5.5 < 100 * delta < 5.8  # the unpaired bound at 45%: ~5.7 points
    assert math.isnan(min_detectable_difference(1200, 0.0))


def _td_run(tmp_path, maskers=("uniform", "ast", "ast-span")):
    patterns = {"uniform": [1, 0, 0, 0], "ast": [1, 1, 0, 0], "ast-span": [1, 1, 1, 0]}
    for m in maskers:
        for seed in (0, 1, 2):
            passed = [bool(x) for x in patterns[m]]
            if m == "ast" and seed == 2:
                passed = [True, True, True, True]
            write_eval(tmp_path / f"eval-td-{m}-s{seed}", {("no-repair", 0): passed})
            sft = tmp_path / f"td-{m}-s{seed}"
            sft.mkdir()
            (sft / "metrics.jsonl").write_text(json.dumps({"step": 300, "loss": 0.05 + seed / 100}) + "\n")


def test_treediff_table_reads_every_arm_and_pairs_them_per_seed(tmp_path):
    lines, data = full_tables.treediff_table(tmp_path)
    assert (
        "not run" in lines[0]
        and lines[4].startswith("| uniform | not run |")
        and lines[-1].endswith("not run |")
    )
    _td_run(tmp_path, maskers=("uniform", "ast"))
    lines, data = full_tables.treediff_table(tmp_path)
    assert "| uniform | 300 | 0.050 / 0.060 / 0.070 | 25.0 [" in lines[4]
    assert lines[4].count("(25.0 / 25.0 / 25.0; 3 x 4)") == 1
    assert "(50.0 / 50.0 / 100.0; 3 x 4)" in lines[5] and "| ast-span | not run |" in lines[6]
    # ast - uniform: seeds 0, 1 add problem t1, seed 2 adds t1, t2, t3 -> b = 5, c = 0, p = 2 / 2^5
    assert "| ast - uniform | +41.7 [" in lines[-3] and "McNemar 5 / 0, p = 0.0625" in lines[-3]
    assert lines[-2] == "| ast-span - uniform | not run |"
    assert data["intervals"]["ast"]["mean"] == pytest.approx(100 * 8 / 12)


def test_treediff_table_takes_the_seeds_on_disk(tmp_path):
    write_eval(tmp_path / "eval-td-uniform-s0", {("no-repair", 0): [True, False]})
    write_eval(tmp_path / "eval-td-ast-s0", {("no-repair", 0): [True, True]})
    lines, _ = full_tables.treediff_table(tmp_path)  # a run with TD_SEEDS=0
    assert "(50.0; 1 x 2)" in lines[4] and "(100.0; 1 x 2)" in lines[5] and "McNemar 1 / 0" in lines[-3]


def test_tier_ce_table_shows_seed_means_paired_differences_and_realized_rates(tmp_path):
    assert full_tables.tier_ce_table(tmp_path) == ["not run"]

    def entry(v, key="ce"):
        return {key: v, "lo": v - 0.01, "hi": v + 0.01, "n": 50}

    tiers = full_tables.TIERS_SHOWN + ("extra",)
    for seed, shift in ((0, 0.0), (1, 0.1)):
        report = {
            "models": [{"pooled": {t: entry(0.5 + k + shift) for t in tiers}} for k in range(3)],
            "paired": [{"pooled": {t: entry(float(k + 1), "diff") for t in tiers}} for k in range(2)],
            "realized_rates": {"maskers": {}}
            if seed
            else {
                "schedule": "curriculum",
                "steps": 300,
                "mean_p_mask": 0.52,
                "maskers": {
                    "uniform": {t: entry(0.52, "rate") for t in tiers},
                    "ast": {t: entry(0.33, "rate") for t in tiers},
                },
            },
        }
        (tmp_path / f"tier_ce-s{seed}.json").write_text(json.dumps(report))
    lines = full_tables.tier_ce_table(tmp_path)
    assert lines[2] == (
        "| skeleton | 50 | 0.550 / 1.550 / 2.550 | +1.000 [+0.990, +1.010] ; +1.000 [+0.990, +1.010] "
        "| +2.000 [+1.990, +2.010] ; +2.000 [+1.990, +2.010] |"
    )
    assert "mean p_mask 0.520" in lines[10] and lines[14] == "| skeleton | 0.520 | 0.330 |"


def test_trace_table_pairs_table1_with_no_repair_and_ablations_with_trace_guided(tmp_path):
    assert full_tables.trace_table(tmp_path) == ["not run"]
    write_eval(
        tmp_path / "eval",
        {
            ("no-repair", 0): [True, False, False, False],
            ("no-repair", 1): [True, False, False, False],
            ("trace-guided", 0): [True, True, False, False],
            ("trace-guided", 1): [True, True, True, False],
            ("s8", 0): [True, False, False, False],
        },
    )
    lines = full_tables.trace_table(tmp_path)
    assert lines[2].startswith("| no-repair | 25.0 [") and lines[2].endswith(
        "(25.0 / 25.0; 2 x 4) | 96.0 |  |  | 19.84 |"
    )
    assert "| trace-guided | 62.5 [" in lines[3] and "| no-repair | +37.5 [" in lines[3]
    assert "McNemar 3 / 0, p = 0.25" in lines[3] and lines[3].endswith("| 31.22 |")
    assert "(25.0; 1 x 4) |" in lines[4] and "| trace-guided | -25.0 [" in lines[4]
    assert "McNemar 0 / 1, p = 1" in lines[4]
    details = full_tables.trace_details(tmp_path)
    assert any(line.startswith("| assertion |") for line in details)


def test_estimator_pooled_table_pairs_both_rl_seeds_with_the_greedy_sft_run(tmp_path):
    write_eval(tmp_path / "eval", {("no-repair", 0): [True, False, False, False]})
    write_eval(tmp_path / "eval-rl-coupled-s0", {("no-repair", 0): [True, True, False, False]})
    write_eval(tmp_path / "eval-rl-coupled-s1", {("no-repair", 0): [False, True, True, False]})
    lines = full_tables.estimator_pooled_table(tmp_path)
    assert lines[2].startswith("| coupled | 2 | 50.0 [") and "(50.0 / 50.0; 2 x 4)" in lines[2]
    assert "| +25.0 [" in lines[2] and "McNemar 3 / 1, p = 0.625" in lines[2]
    assert lines[3] == "| independent | 2 | not run | |" and len(lines) == 5  # no pair of estimators to compare
    write_eval(tmp_path / "eval-rl-d1-s0", {("no-repair", 0): [True, False, True, False]})
    write_eval(tmp_path / "eval-rl-d1-s1", {("no-repair", 0): [False, True, False, False]})
    lines = full_tables.estimator_pooled_table(tmp_path)
    # coupled passes 4 of 8, d1 3 of 8: coupled only at (s0, task 1), (s1, task 2); d1 only at (s0, task 2)
    assert lines[-1].startswith("| coupled - d1 | +12.5 [") and "McNemar 2 / 1, p = 1" in lines[-1], lines
    assert lines[-3].startswith("| between estimators |") and len(lines) == 9


def test_arness_table_one_row_per_model_and_temperature(tmp_path):
    assert full_tables.arness_table(tmp_path)[0] == "| SFT model | not run | | |"
    report = {
        "local_k": [1, 2],
        "global_k": [1],
        "results": [
            {"temperature": 0.0, "sequences": 10, "local": [0.9, 0.8], "global": [0.7]},
            {"temperature": 1.0, "sequences": 10, "local": [0.5, 0.25], "global": [0.4]},
        ],
    }
    (tmp_path / "arness-sft.json").write_text(json.dumps(report))
    lines = full_tables.arness_table(tmp_path)
    assert lines[0] == "| model | temperature | problems | local@1 | local@2 | global@1 |"
    assert lines[2] == "| SFT model | 0 | 10 | 0.900 | 0.800 | 0.700 |"
    assert lines[3] == "| SFT model | 1 | 10 | 0.500 | 0.250 | 0.400 |"
    assert lines[4] == "| coupled-GRPO model (section 3, coupled, first seed) | not run | | |"


def test_fast_curve_points_table_and_figure(tmp_path):
    from minicode.full_plots import fast_curve_figure

    write_eval(tmp_path / "fast-plain", {("no-repair", 0): [True, True, False, False]})
    write_eval(tmp_path / "fast-dual-0.9", {("no-repair", 0): [True, False, False, False]}, nfe=6.0)
    write_eval(tmp_path / "fast-dual-0.95", {("no-repair", 0): [True, False, False, False]}, nfe=7.0)
    points = full_tables.fast_points(tmp_path)
    assert list(points) == ["plain", "dual"] and [p["threshold"] for p in points["dual"]] == [0.9, 0.95]
    # tokens/s: 4 problems x 96 tokens / (4 rows x 0.5 s) = 192
    assert points["plain"][0]["tokens_per_s"] == 192.0
    lines = full_tables.fast_curve_table(points)
    assert lines[2].startswith("| plain (one token per step) |  | 50.0 [") and lines[2].endswith(
        "| 96.0 | 192.0 |  |"
    )
    assert (
        lines[3].startswith("| threshold + dual cache | 0.9 | 25.0 [") and "McNemar 0 / 1, p = 1" in lines[3]
    )
    assert (
        fast_curve_figure(points, tmp_path / "curve.png") and (tmp_path / "curve.png").stat().st_size > 1000
    )


def test_family_split_is_disjoint_complete_and_printed_for_both_consumers(capsys):
    from data.minicode import FAMILIES
    from minicode.families import family_split, main

    split = family_split()
    assert not set(split["base"]) & set(split["new"]) and set(split["base"]) | set(split["new"]) == set(
        FAMILIES
    )
    assert abs(len(split["base"]) - len(split["new"])) <= 1 and family_split() == split
    assert (
        main(["new"]) == ",".join(split["new"]) and main(["base", "--yaml"]) == f"[{','.join(split['base'])}]"
    )


def test_full_report_writes_five_sections_with_figures(tmp_path):
    from minicode.full_report import write_full_report

    (tmp_path / "summary.json").write_text(json.dumps({"total_seconds": 60, "stage_seconds": {"sft": 50}}))
    _td_run(tmp_path)
    write_eval(
        tmp_path / "eval",
        {("no-repair", 0): [True, False, False, False], ("trace-guided", 0): [True, True, False, False]},
    )
    write_eval(tmp_path / "fast-plain", {("no-repair", 0): [True, True, False, False]})
    (tmp_path / "full_settings.json").write_text(json.dumps({"TD_STEPS": "300", "SFT_ARGS": ""}))
    md = write_full_report(tmp_path).read_text()
    assert "TD_STEPS='300'" in md and "mean nothing" not in md
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert [h.split(".")[0] for h in heads] == ["## 1", "## 2", "## 3", "## 4", "## 5"]
    assert "detect 5.7 points" in md and "figure_treediff.png" in md and "figure_fast_curve.png" in md
    assert (tmp_path / "figure_treediff.png").exists() and (tmp_path / "figure_fast_curve.png").exists()
    assert (
        json.loads((tmp_path / "report.json").read_text())["treediff"]["intervals"]["ast-span"]["mean"]
        == 75.0
    )
