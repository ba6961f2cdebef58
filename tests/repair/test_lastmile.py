"""CodeFusion's last-mile repair metrics (repair/lastmile.py): sketch match by hand, the invalid-only test set,
execution match through the sandbox, and noise-and-resume repair scored end to end."""

from __future__ import annotations

import json

import pytest

from repair import corrupt, resume_repair
from repair.lastmile import invalid_only, score, sketch, sketch_match

FIXED = "def add_k(x, y):\n    return x + y * 3\n"
TESTS = ["assert add_k(1, 2) == 7", "assert add_k(0, 0) == 0"]


def test_sketch_match_up_to_names_and_literals_by_hand():
    # renamed variables and function, changed constant: the same sketch (not the same behaviour)
    assert sketch_match("def other(a, b):\n    return a + b * 7\n", FIXED)
    # whitespace, blank lines, comments and indentation width do not count
    assert sketch_match("def add_k(x,y):  # sum\n\n  # scaled\n  return x+y*3\n", FIXED)
    assert sketch(FIXED) == ("def", "<id>", "(", "<id>", ",", "<id>", ")", ":", "NEWLINE", "INDENT", "return",
                             "<id>", "+", "<id>", "*", "<num>", "NEWLINE", "DEDENT")
    # operators, structure and keywords must match
    assert not sketch_match("def add_k(x, y):\n    return x - y * 3\n", FIXED)  # operator
    assert not sketch_match("def add_k(x, y):\n    return x + y ** 3\n", FIXED)
    assert not sketch_match("def add_k(x, y):\n    return (x + y) * 3\n", FIXED)  # brackets
    assert not sketch_match("def add_k(x, y):\n    return x + y\n", FIXED)  # a dropped operand
    assert not sketch_match("def add_k(x, y):\n    z = x + y * 3\n", FIXED)  # return became an assignment
    assert not sketch_match("def add_k(x, y):\n    return x + y * 3\n    return x\n", FIXED)  # extra statement
    assert not sketch_match("def add_k(x, y):\n    return x + y * '3'\n", FIXED)  # a string is not a number
    # builtins and keywords stay as written; other names (attributes included) are anonymized
    assert sketch_match("n = foo(s)\n", "m = bar(t)\n") and not sketch_match("n = len(s)\n", "n = max(s)\n")
    assert sketch_match("a.append(b)\n", "c.extend(d)\n") and not sketch_match("x = None\n", "x = y\n")
    # a candidate that does not parse never matches; a fixed program that does not parse cannot be matched
    assert not sketch_match("def add_k(x, y)\n    return x + y * 3\n", FIXED)
    assert not sketch_match(FIXED, "def add_k(x, y)\n    return x + y * 3\n")


def test_invalid_only_drops_parseable_rows_and_counts_unscorable_ones():
    rows = [{"broken": FIXED.replace("y * 3", "y * 4"), "fixed": FIXED, "tests": TESTS},  # parses: dropped
            {"broken": FIXED.replace(":", "", 1), "fixed": FIXED, "tests": TESTS},
            {"broken": FIXED.replace(")", "", 1)},  # no fixed program, no tests
            {"broken": "x = (1\n", "fixed": "x = (1\n", "tests": TESTS}]  # its fixed program does not parse
    kept, counts = invalid_only(rows)
    assert kept == rows[1:]
    assert counts == {"input_rows": 4, "dropped_parseable": 1, "programs": 3, "no_fixed": 2, "no_tests": 1}


def test_execution_match_runs_the_tests_and_is_separate_from_sketch_match():
    broken = FIXED.replace(":", "", 1)
    candidates = [FIXED,
                  "def add_k(x, y):\n    return x + y * 4\n",  # sketch match, fails the tests
                  "def add_k(x, y):\n    return y * 3 + x\n",  # passes the tests, another sketch
                  "def add_k(x, y):\n    return x + y * 3 +\n",  # does not parse
                  broken]
    s = score(broken, candidates, FIXED, TESTS)
    assert s["execution_match"] == [True, False, True, False, False]
    assert s["sketch_match"] == [True, True, False, False, False]
    # the old criterion (parses, 0 < token edit distance <= 4, passes the tests): the reordered fix is 5 edits away
    assert s["last_mile_old"] == [True, False, False, False, False]
    unscored = score(broken, candidates, None, None)
    assert unscored["execution_match"] is None and unscored["sketch_match"] is None  # never passed silently
    assert unscored["last_mile_old"] == [True, True, False, False, False]  # without tests: parse + distance only


def test_rule_based_test_set_carries_fixed_and_tests(tmp_path):
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"prompt": "def add_k(x, y):\n", "canonical_solution": "    return x + y * 3\n",
                                    "tests": TESTS}) + "\n")
    out = tmp_path / "rule.jsonl"
    corrupt.main(["--input", str(problems), "--out", str(out), "--num-samples", "4"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["fixed"] == FIXED and r["tests"] == TESTS for r in rows)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_resume_repair_scores_hand_made_candidates(tiny_model_dir, tmp_path, monkeypatch):
    """Candidates chosen by hand (the model's own are ~never right): every rate of the summary by hand."""
    broken = FIXED.replace(":", "", 1)
    other, wrong = "def add_k(x, y):\n    return x + y * 4\n", "def add_k(x, y):\n    return y * 3 + x\n"
    chosen = {broken: [[FIXED, other, broken, broken, broken], [wrong, broken, broken, broken, broken]],
              "x = (1\n": [["x = (1)\n"] * 5, ["x = 1\n"] * 5]}
    monkeypatch.setattr(resume_repair, "repair_one", lambda loaded, b, levels, args: chosen[b])
    src = _write(tmp_path / "test.jsonl", [{"broken": FIXED, "fixed": FIXED, "tests": TESTS},  # parses: dropped
                                           {"broken": broken, "fixed": FIXED, "tests": TESTS},
                                           {"broken": "x = (1\n"}])
    s = resume_repair.main(["--model", str(tiny_model_dir), "--input", src, "--out", str(tmp_path / "rr.jsonl"),
                            "--noise-levels", "0.3,0.6", "--samples", "5"])
    assert s["test_set"] == {"input_rows": 3, "dropped_parseable": 1, "programs": 2, "no_fixed": 1, "no_tests": 1}
    ex, sk, old = s["execution_match"], s["sketch_match"], s["last_mile_old"]
    assert ex["programs"] == sk["programs"] == 1 and old["programs"] == 2  # n per metric: the rows it can score
    # execution: 1 of 5 at each level; pooled pass@1 = 1 - (4/5)(4/5); vote: column 0 is {FIXED, wrong} (a tie:
    # the lowest level's FIXED wins, a match), columns 1-4 vote for a candidate that does not match
    assert ex["per_level"]["0.3"]["pass@1"] == pytest.approx(0.2) and ex["per_level"]["0.6"]["pass@1"] == pytest.approx(0.2)
    assert ex["any"] == pytest.approx(9 / 25) and ex["vote"] == pytest.approx(1 / 5)
    # sketch: 2 of 5 at level 0.3, none at 0.6 (the reordered fix has another sketch): pooled 1 - (3/5)(5/5)
    assert sk["per_level"]["0.3"]["pass@1"] == pytest.approx(0.4) and sk["per_level"]["0.6"]["pass@1"] == 0.0
    assert sk["any"] == pytest.approx(0.4) and sk["best_level"] == "0.3"
    # old criterion: FIXED (1 edit, passes) for the first row; "x = (1)" / "x = 1" (1 edit each, no tests) always
    assert old["per_level"]["0.3"]["pass@1"] == pytest.approx((0.2 + 1) / 2)
    saved = json.loads((tmp_path / "rr.jsonl.summary.json").read_text())
    assert saved["test_set"]["dropped_parseable"] == 1 and saved["sketch_match"]["any"] == pytest.approx(0.4)
    assert saved["settings"]["samples"] == 5 and saved["settings"]["mode"] == "uniform"


def test_resume_repair_end_to_end_on_the_tiny_model(tiny_model_dir, tmp_path, capsys):
    """The real model on a rule-based test set built from a problem file: both metrics, their n, the drop count."""
    problems = _write(tmp_path / "problems.jsonl",
                      [{"prompt": "def add_k(x, y):\n", "canonical_solution": "    return x + y * 3\n", "tests": TESTS}])
    test_set = tmp_path / "rule.jsonl"
    corrupt.main(["--input", problems, "--out", str(test_set), "--num-samples", "6", "--seed", "3"])
    rows = [json.loads(line) for line in test_set.read_text().splitlines()]
    n_parse = sum(r["broken_parses"] for r in rows)
    assert 0 < n_parse < len(rows)  # the seed gives both kinds, so the filter has work to do
    s = resume_repair.main(["--model", str(tiny_model_dir), "--input", str(test_set), "--out",
                            str(tmp_path / "rr.jsonl"), "--noise-levels", "0.3,0.6", "--mode", "error-region",
                            "--samples", "2", "--steps", "4"])
    assert s["test_set"]["dropped_parseable"] == n_parse and s["programs"] == len(rows) - n_parse
    for metric in ("execution_match", "sketch_match", "last_mile_old"):
        assert s[metric]["programs"] == s["programs"] and set(s[metric]["pooled"]) == {"pass@1"}
        assert 0.0 <= s[metric]["any"] <= 1.0
    out = [json.loads(line) for line in (tmp_path / "rr.jsonl").read_text().splitlines()]
    assert len(out) == s["programs"] and all(len(r["execution_match"]) == 2 for r in out)
    printed = capsys.readouterr().out
    assert f"({n_parse} dropped: they parse)" in printed and "sketch match" in printed
