"""repair.report: McNemar on known counts, token edit distances, jsonl reading, and a full report from synthetic rows."""

from __future__ import annotations

import json
import math

import pytest

from repair.report import (
    discordant,
    edit_distances,
    localization_counts,
    mcnemar,
    summarize,
    token_edit_distance,
    write_report,
)
from repair.run_files import load_runs, read_rows, run_path


def _exact_two_sided(b: int, c: int) -> float:
    """Hand reference: 2 * P(X <= min(b, c)), X ~ Bin(b + c, 1/2), capped at 1."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n)


@pytest.mark.parametrize("b,c", [(1, 5), (0, 6), (72, 24), (10, 10), (3, 0)])
def test_mcnemar_exact_matches_hand_binomial(b, c):
    m = mcnemar(b, c)
    assert (m.b, m.c) == (b, c)
    assert m.p_exact == pytest.approx(_exact_two_sided(b, c), rel=1e-9)


def test_mcnemar_known_values():
    assert mcnemar(1, 5).p_exact == pytest.approx(14 / 64)  # 2 * (1 + 6) / 2^6
    assert mcnemar(0, 6).p_exact == pytest.approx(2 / 64)
    m = mcnemar(1, 5)  # chi2 with continuity: (|1 - 5| - 1)^2 / 6 = 1.5
    assert m.chi2 == pytest.approx(1.5)
    assert m.p_chi2 == pytest.approx(0.2206713619, rel=1e-6)
    assert mcnemar(72, 24).p_exact < 1e-3  # the paper's trace-guided vs CORE counts: p < 0.001
    assert mcnemar(0, 0).p_exact == 1.0


def test_discordant_pairs_common_tasks_only():
    ref = [{"task_id": t, "passed": p} for t, p in [("a", True), ("b", True), ("c", False), ("d", False), ("x", True)]]
    other = [{"task_id": t, "passed": p} for t, p in [("a", True), ("b", False), ("c", True), ("d", False)]]
    assert discordant(ref, other) == (1, 1)


def test_token_edit_distance_on_token_ids():
    assert token_edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert token_edit_distance([1, 2, 3], [1, 3]) == 1  # one deletion
    assert token_edit_distance([1, 2, 3], [3, 2, 1]) == 2  # two substitutions
    assert token_edit_distance([], [5, 6]) == 2
    # ids beyond one byte are single symbols: one substitution, not a character-level diff
    assert token_edit_distance([1000, 126336], [1000, 126337]) == 1
    assert token_edit_distance([7, 8, 9, 10], [7, 11, 9]) == 2  # substitute 8, delete 10


def _row(task, passed, *, rounds=(), before=(1, 2), after=(1, 2), error="syntax", nfe=10, seconds=0.5):
    return {"task_id": task, "passed": passed, "nfe": nfe, "seconds": seconds, "error_type": error,
            "rounds": [{"method": m, "lines": [], "positions": [], "nfe": 1, "status": "fail"} for m in rounds],
            "initial_tokens": list(before), "final_tokens": list(after)}


def test_edit_distances_and_localization_only_count_repaired_rows():
    rows = [_row("a", False, rounds=["exception", "fallback"], before=[1, 2, 3], after=[1, 9, 3]),
            _row("b", True),  # passed feedback at once: no repair, no distance
            _row("c", False, rounds=["assertion"], before=[1, 2], after=[1, 2])]
    assert edit_distances(rows) == [1, 0]
    assert localization_counts(rows) == {"exception": 1, "assertion": 1}  # first round's method per problem


def test_read_rows_skips_torn_line_and_duplicates(tmp_path):
    path = tmp_path / "x.jsonl"
    a, b = _row("a", True), _row("b", False)
    path.write_text(json.dumps(a) + "\n" + json.dumps(a) + "\n" + json.dumps(b) + "\n" + '{"task_id": "c", "pa')
    assert [r["task_id"] for r in read_rows(path)] == ["a", "b"]
    assert read_rows(tmp_path / "missing.jsonl") == []


def _write(out, strategy, seed, rows):
    path = run_path(out, strategy, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_write_report_from_synthetic_runs(tmp_path):
    tasks = [f"t{i}" for i in range(6)]
    for seed in (0, 1):
        _write(tmp_path, "no-repair", seed, [_row(t, i == 0, nfe=128) for i, t in enumerate(tasks)])
        _write(tmp_path, "global-low-confidence", seed,
               [_row(t, i == 0, rounds=["global"], nfe=160) for i, t in enumerate(tasks)])
        tg = [_row(t, i < 3 + seed, rounds=["exception"], before=[1, 2, 3], after=[4, 2, 3],
                   error="runtime" if i % 2 else "syntax", nfe=200) for i, t in enumerate(tasks)]
        _write(tmp_path, "trace-guided", seed, tg)
        _write(tmp_path, "s8", seed, [_row(t, i < 2, rounds=["assertion"], nfe=150) for i, t in enumerate(tasks)])
    summary = write_report(tmp_path, {"dataset": "mbpp", "model": "synthetic"})
    assert summary["trace-guided"]["pass@1_mean"] == pytest.approx(100 * (3 + 4) / 12)
    assert summary["trace-guided"]["pass@1_std"] == pytest.approx((400 / 6 - 50) / math.sqrt(2))  # sample std
    assert summary["no-repair"]["nfe_mean"] == 128 and summary["no-repair"]["nfe_total"] == 128 * 12
    assert summary["no-repair"]["seconds_total"] == 0.5 * 12 and summary["no-repair"]["seconds_per_problem"] == 0.5
    for name in ("results.json", "report.md", "figure2_localization.png", "figure3_edit_distance.png"):
        assert (tmp_path / name).stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mcnemar"]["trace-guided vs no-repair seed 1"]["b"] == 3
    report = (tmp_path / "report.md").read_text()
    for heading in ("Table 1", "Table 2", "Table 3", "McNemar", "Figure 2", "Figure 3", "19.84", "31.22"):
        assert heading in report
    assert "| s8 |" in report  # ablation rows in Table 2
    assert summarize(load_runs(tmp_path)).keys() == summary.keys()


def test_problems_file_report_has_no_paper_columns(tmp_path):
    """A --problems run (minicode, any jsonl) has no paper figures: no 'Paper' line, no paper columns in Table 1."""
    _write(tmp_path, "no-repair", 0, [_row("t0", True, nfe=96), _row("t1", False, nfe=96)])
    _write(tmp_path, "trace-guided", 0, [_row("t0", True, nfe=96), _row("t1", True, rounds=["exception"], nfe=120)])
    write_report(tmp_path, {"dataset": None, "problems": "eval.jsonl", "model": "synthetic"})
    report = (tmp_path / "report.md").read_text()
    table1 = report.split("## Table 1")[1].split("##")[0]
    assert "Paper" not in report and "paper" not in table1 and "n/a" not in report
    assert "| no-repair | 50.00 ± " in table1 and "| trace-guided | 100.00 ± " in table1
    header, rule = [line for line in table1.splitlines() if line.startswith("|")][:2]
    assert header.count("|") == rule.count("|") == 8  # 7 columns


def _paired(n_tasks: int, b: int, c: int) -> tuple[list[dict], list[dict]]:
    """Rows of trace-guided and a baseline over the same tasks with exactly b / c discordant pairs."""
    ref = [_row(f"t{i}", i < b or b + c <= i < b + c + 2) for i in range(n_tasks)]
    other = [_row(f"t{i}", b <= i < b + c or b + c <= i < b + c + 2) for i in range(n_tasks)]
    return ref, other


def test_three_seed_report_prints_the_pooled_exact_mcnemar(tmp_path):
    """Issue 29.3: per seed and pooled over seeds (discordant counts summed), as the paper's '72 vs 24, p < 0.001'
    over seeds 0-2; the pooled p is the exact two-sided binomial p of the summed counts (by hand and by scipy)."""
    from scipy.stats import binomtest

    counts = {0: (25, 8), 1: (24, 9), 2: (23, 7)}  # sums to the paper's 72 vs 24
    for seed, (b, c) in counts.items():
        ref, other = _paired(60, b, c)
        _write(tmp_path, "trace-guided", seed, ref)
        _write(tmp_path, "core-reimpl", seed, other)
        assert discordant(ref, other) == (b, c)
    write_report(tmp_path, {"dataset": "mbpp", "model": "synthetic"})
    p = _exact_two_sided(72, 24)
    assert p == pytest.approx(binomtest(72, 96, 0.5).pvalue, rel=1e-9) and p < 1e-3
    pooled = json.loads((tmp_path / "results.json").read_text())["mcnemar"]["trace-guided vs core-reimpl pooled"]
    assert (pooled["b"], pooled["c"], pooled["seeds"]) == (72, 24, [0, 1, 2])
    assert pooled["p_exact"] == pytest.approx(p, rel=1e-9)
    report = (tmp_path / "report.md").read_text()
    assert f"| core-reimpl | **pooled** (0,1,2) | 72 | 24 | {p:.4g} |" in report
    for seed, (b, c) in counts.items():  # the per-seed rows stay
        assert f"| core-reimpl | {seed} | {b} | {c} | {_exact_two_sided(b, c):.4g} |" in report


def test_pooled_mcnemar_small_counts_by_hand(tmp_path):
    """(3, 1) + (4, 0) + (2, 1) = 9 vs 2: p = 2 * (C(11,0) + C(11,1) + C(11,2)) / 2^11 = 134 / 2048."""
    for seed, (b, c) in enumerate([(3, 1), (4, 0), (2, 1)]):
        ref, other = _paired(8, b, c)
        _write(tmp_path, "trace-guided", seed, ref)
        _write(tmp_path, "no-repair", seed, other)
    write_report(tmp_path, {"dataset": "mbpp", "model": "synthetic"})
    pooled = json.loads((tmp_path / "results.json").read_text())["mcnemar"]["trace-guided vs no-repair pooled"]
    assert (pooled["b"], pooled["c"]) == (9, 2) and pooled["p_exact"] == pytest.approx(134 / 2048, rel=1e-12)
    assert "| no-repair | **pooled** (0,1,2) | 9 | 2 | 0.06543 |" in (tmp_path / "report.md").read_text()


def test_header_states_the_readings_that_ran(tmp_path):
    """Issue 29.2 / 29.7: the trace reading, the global / fallback scope and syntax localization are in the header;
    a run recorded before the options existed says what ran then."""
    _write(tmp_path, "trace-guided", 0, [_row("t0", True, rounds=["syntax"], nfe=120)])
    write_report(tmp_path, {"dataset": "mbpp", "model": "m", "trace_reading": "events", "global_scope": "completion",
                            "max_trace_lines": 20})
    header = (tmp_path / "report.md").read_text().split("## Table 1")[0]
    assert "- Wrong-output trace reading: **events** (--trace-reading; 'events' = the last M = 20 executed" in header
    assert "- Global low-confidence / fallback selection scope: **completion** (--global-scope;" in header
    assert "- Syntax errors: **localized**: the line the SyntaxError" in header
    write_report(tmp_path, {"dataset": "mbpp", "model": "m", "trace_reading": "distinct", "global_scope": "all"})
    header = (tmp_path / "report.md").read_text().split("## Table 1")[0]
    assert "trace reading: **distinct**" in header and "selection scope: **all**" in header
    write_report(tmp_path, {"dataset": "mbpp", "model": "old"})
    header = (tmp_path / "report.md").read_text().split("## Table 1")[0]
    assert "trace reading: **distinct (recorded before the option existed)**" in header
    assert "selection scope: **all (recorded before the option existed)**" in header
    assert "Syntax errors: **fallback** (recorded before" in header
    table = (tmp_path / "report.md").read_text().split("## Localization methods")[1]
    assert "| exception | syntax | assertion | fallback |" in table and "| trace-guided | 0 (0.0%) | 1 (100.0%) |" in table
