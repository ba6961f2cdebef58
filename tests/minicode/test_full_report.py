"""minicode.full_report: the full-recipe table from what the SFT and repair.evaluate entry points write."""

from __future__ import annotations

import json

from minicode.full_report import binomial_halfwidth, codefusion_pairs_table, full_recipe_table


def _strategy(pass1: float, nfe: float) -> dict:
    return {"pass@1_mean": pass1, "pass@1_std": 0.0, "nfe_mean": nfe, "seconds_total": 100.0,
            "seeds": {"0": {"problems": 200, "passed": int(2 * pass1)}}}


def test_full_recipe_table_reads_sft_metrics_and_eval_results(tmp_path):
    assert full_recipe_table(tmp_path)[-1] == "| not run | | | | | |"
    sft, out = tmp_path / "sft-full", tmp_path / "eval-sft-full"
    sft.mkdir()
    out.mkdir()
    rows = [{"step": 10, "loss": 5.3, "tokens_per_s": 15000.0}, {"step": 4000, "loss": 0.0017, "tokens_per_s": 16000.0}]
    (sft / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "config.json").write_text(json.dumps({"gen_length": 96}))
    (out / "results.json").write_text(json.dumps({"strategies": {"no-repair": _strategy(87.5, 96.0),
                                                                 "trace-guided": _strategy(89.5, 99.4)}}))
    # 95% half-width by hand: 1.96 * sqrt(0.875 * 0.125 / 200) = 4.58 points
    assert abs(binomial_halfwidth(87.5, 200) - 4.583) < 1e-3
    assert full_recipe_table(tmp_path)[-1] == ("| 4000 | 0.0017 | 15500 | 87.5 (± 4.6, n=200) "
                                               "| 89.5 (± 4.2, n=200) | 99.4 |")


def _metric(programs: int, any_: float) -> dict:
    return {"programs": programs, "samples_per_level": 5, "per_level": {}, "any": any_, "best": any_ / 2,
            "best_level": "0.3", "vote": any_ / 4, "pooled": {"pass@1": any_, "pass@3": 0.5, "pass@5": 0.6}}


def test_codefusion_table_shows_execution_and_sketch_match_on_invalid_programs_with_n(tmp_path):
    from minicode.full_report import codefusion_table

    assert codefusion_table(tmp_path)[2] == "| SFT model (no repair training) | diffusion | not run | | | | |"
    summary = {"test_set": {"input_rows": 60, "dropped_parseable": 22, "programs": 38, "no_fixed": 0, "no_tests": 3},
               "programs": 38, "execution_match": _metric(35, 0.4), "sketch_match": _metric(38, 0.2),
               "last_mile_old": _metric(38, 0.1)}
    (tmp_path / "cf_resume_sft_on_rule.jsonl.summary.json").write_text(json.dumps(summary))
    (tmp_path / "cf_resume_sft_on_diffusion.jsonl.summary.json").write_text(json.dumps({"any": 0.1, "programs": 6}))
    lines = codefusion_table(tmp_path)
    assert "execution match" in lines[0] and "sketch match" in lines[0] and "old criterion" in lines[0]
    assert lines[2] == "| SFT model (no repair training) | diffusion | old summary: rerun the stage | | | | |"
    # 95% half-width of 40% on 35 programs: 1.96 * sqrt(0.4 * 0.6 / 35) = 16.2 points
    assert lines[3] == ("| SFT model (no repair training) | rule: 38 of 60 (22) | 40.0 (± 16.2) / 20.0 / 10.0 (n=35) "
                        "| 40.0 / 50.0 / 60.0 | 20.0 (± 12.7) / 10.0 / 5.0 (n=38) | 20.0 / 50.0 / 60.0 | 10.0 (n=38) |")
    summary["execution_match"] = _metric(0, 0.0) | {"any": None}
    (tmp_path / "cf_resume_sft_on_rule.jsonl.summary.json").write_text(json.dumps(summary))
    assert "| no scorable program (n=0) |  |" in codefusion_table(tmp_path)[3]
    assert lines[-1].startswith("| paper: CodeFusion")


def test_estimator_table_pairs_each_rl_model_with_the_sft_model(tmp_path):
    from minicode.full_report import estimator_table

    def write_runs(out, passed):
        path = out / "runs" / "no-repair.seed0.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps({"task_id": f"t{i}", "passed": p}) + "\n" for i, p in enumerate(passed)))

    lines, _ = estimator_table(tmp_path)
    assert lines[2] == "| coupled | 2 | 0 | not run | | | |" and len(lines) == 2 + 9  # 3 estimators x 3 seeds
    write_runs(tmp_path / "eval", [True, False, False, False])
    write_runs(tmp_path / "eval-rl-d1-s1", [True, True, True, False])
    rl = tmp_path / "rl-d1-s1"
    rl.mkdir()
    rows = [{"step": 0, "probe/reward": 1.5}, {"step": 1, "reward": 1.2}, {"step": 2, "reward": 1.4, "probe/reward": 1.7}]
    (rl / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines, curves = estimator_table(tmp_path)
    assert lines[-1] == "| d1 | 2 | 1 | 2 | 1.5 -> 1.7 | 25.0 -> 75.0 (+50.0) | 2 / 0, 0.5 |"
    assert len(curves["d1-s1"]) == 3


def _resumed(tmp_path, model: str, repaired: list[tuple[bool, bool]]) -> None:
    """One parseable row (dropped by the scoring) then one invalid row per (execution, sketch): 2 levels x 2 samples,
    the match (when any) at the second level's second sample."""
    rows = [{"broken": "x = 1\n", "fixed": "x = 1\n", "candidates": [["x = 1\n"] * 2] * 2,
             "execution_match": [[True] * 2] * 2, "sketch_match": [[True] * 2] * 2}]
    for execution, sketch in repaired:
        rows.append({"broken": "def f(:\n    return 1\n", "fixed": "def f():\n    return 1\n",
                     "candidates": [["a", "b"], ["c", "d"]], "execution_match": [[False, False], [False, execution]],
                     "sketch_match": [[False, False], [False, sketch]]})
    (tmp_path / f"cf_resume_{model}_on_rule.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_codefusion_pairs_table_pairs_repair_models_on_the_same_invalid_programs(tmp_path):
    assert codefusion_pairs_table(tmp_path) == []
    _resumed(tmp_path, "sft", [(True, False), (False, False), (False, False), (True, True)])
    _resumed(tmp_path, "repair-sft-diffusion-s0", [(False, True), (True, True), (True, True), (True, True)])
    _resumed(tmp_path, "repair-sft-diffusion-s1", [(True, False), (True, True), (False, True), (True, True)])
    lines = codefusion_pairs_table(tmp_path)
    assert len(lines) == 5 and [x.split(" | ")[1] for x in lines[2:]] == [
        "SFT model (no repair training)", "+ diffusion pairs", "+ diffusion pairs - SFT model (no repair training)"]
    # by hand (the parseable first row would count 1 / 1 for every model if it were scored): execution, the SFT model
    # 2 of 4, seed 0 3 of 4, seed 1 3 of 4; sketch 1 of 4, 4 of 4, 3 of 4
    assert lines[2].split(" | ")[2].startswith("50.0 [") and "(50.0; 1 x 4)" in lines[2]
    execution, sketch = lines[3].split(" | ")[2:4]
    assert execution.startswith("75.0 [") and "(75.0 / 75.0; 2 x 4)" in execution
    assert sketch.startswith("87.5 [") and "(100.0 / 75.0; 2 x 4)" in sketch
    # the SFT model paired with each seed: execution gained 2 + 1, lost 1 + 0; sketch gained 3 + 2, lost none
    execution, sketch = lines[4].split(" | ")[2:4]
    assert execution.startswith("+25.0 [") and "McNemar 3 / 1, p = 0.625;" in execution
    assert sketch.startswith("+62.5 [") and "McNemar 5 / 0, p = 0.0625;" in sketch
    _resumed(tmp_path, "repair-sft-diffusion-s2", [(True, True)] * 2)  # still running: the first 2 programs so far
    assert "(50.0 / 100.0 / 100.0; 3 x 2)" in codefusion_pairs_table(tmp_path)[3]  # every seed on that prefix
    (tmp_path / "cf_resume_repair-sft-diffusion-s2_on_rule.jsonl").unlink()
    _resumed(tmp_path, "repair-sft-rule-s0", [(True, True)] * 4)  # one rule seed: paired with diffusion seed 0 only
    rule_vs_diffusion = codefusion_pairs_table(tmp_path)[-1]
    assert "+ diffusion pairs - + rule-based pairs" in rule_vs_diffusion and "McNemar 0 / 1, p = 1;" in rule_vs_diffusion


def test_codefusion_table_labels_each_repair_seed(tmp_path):
    from minicode.full_report import codefusion_table

    _resumed(tmp_path, "repair-sft-rule-s2", [(True, True)])
    summary = {"test_set": {"input_rows": 2, "dropped_parseable": 1, "programs": 1, "no_fixed": 0, "no_tests": 0},
               "programs": 1, "execution_match": _metric(1, 1.0), "sketch_match": _metric(1, 1.0),
               "last_mile_old": _metric(1, 1.0)}
    (tmp_path / "cf_resume_repair-sft-rule-s2_on_rule.jsonl.summary.json").write_text(json.dumps(summary))
    rows = [x.split(" | ")[:2] for x in codefusion_table(tmp_path)[2:-1]]
    assert rows[-1] == ["| + rule-based pairs, seed 2", "rule: 1 of 2 (1)"]
    assert ["| + diffusion pairs", "diffusion"] in rows  # no diffusion seed ran: one "not run" row
