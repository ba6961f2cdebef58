"""minicode.full_report: the full-recipe table from what the SFT and repair.evaluate entry points write."""

from __future__ import annotations

import json

from minicode.full_report import binomial_halfwidth, full_recipe_table


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
