"""minicode: every family's canonical solution passes its own tests (in-process for 50 seeds, in the real sandbox
for 2 problems per family), determinism, leak-free splits, the CLI file through data.problems, literal copying."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data.minicode import FAMILIES, SPLITS, generate_problems, generate_specs, main, split_of, training_text
from data.minicode_families import Choice
from data.problems import load_problems, split_tests
from repair.execution import run_many
from repair.execution.expected import with_expected

REPO = Path(__file__).resolve().parents[2]


def _literal_pattern(lit: str) -> str:
    if lit.startswith(("'", '"')):
        return re.escape(lit)
    return r"(?<![\w.])" + re.escape(lit) + r"(?!\w)"  # a number, not a digit of a longer one


def _docstring(prompt: str) -> str:
    return ast.get_docstring(ast.parse(prompt + "    pass\n").body[0])


def test_at_least_40_families_and_every_split_reachable_for_every_family():
    assert len(FAMILIES) >= 40
    for family, make in FAMILIES.items():
        rng = random.Random(family)
        keys = {make(rng).constants for _ in range(400)}
        splits = {split_of(family, k) for k in keys}
        assert splits == set(SPLITS), (family, len(keys), splits)
    for split in SPLITS:  # and generation finds them: a full cycle holds every family once
        rows = generate_problems(split, len(FAMILIES), seed=3)
        assert sorted(r["family"] for r in rows) == sorted(FAMILIES)


def test_canonical_solutions_pass_their_tests_for_50_seeds():
    """In-process, through JSON: the stored inputs (as the sandbox will read them) reproduce expected_output; the
    program parses; the constants are written verbatim in docstring and code; >= 10 inputs, outputs not constant."""
    multi_line = constant = total = 0
    for seed in range(50):
        split = SPLITS[seed % 3]
        for row in json.loads(json.dumps(generate_problems(split, len(FAMILIES), seed))):
            program = row["prompt"] + row["canonical_solution"]
            ast.parse(program)
            namespace: dict = {}
            exec(program, namespace)
            fn = namespace[row["entry_point"]]
            assert len(row["base_input"]) >= 10 and len(row["expected_output"]) == len(row["base_input"])
            assert [fn(*args) for args in row["base_input"]] == row["expected_output"], row["task_id"]
            multi_line += row["canonical_solution"].count("\n") >= 2
            constant += len({json.dumps(o) for o in row["expected_output"]}) == 1
            total += 1
    assert total == 50 * len(FAMILIES)
    assert multi_line / total >= 0.7, multi_line / total
    assert constant / total <= 0.02, constant / total


def test_constants_are_copied_verbatim_from_docstring_to_code():
    for seed in range(10):
        for spec in generate_specs("train", len(FAMILIES), seed):
            doc, code = _docstring(spec.prompt), spec.solution
            assert doc == spec.doc
            assert spec.prompt.startswith(f"def {spec.name}({', '.join(spec.args)}):\n    \"\"\"")
            assert all(line.startswith("    ") for line in code.splitlines()) and code.endswith("\n")
            literals = spec.literals()
            assert literals or any(isinstance(c, Choice) for c in spec.constants)
            for lit in literals:
                assert re.search(_literal_pattern(lit), doc), (spec.family, lit, doc)
                assert re.search(_literal_pattern(lit), code), (spec.family, lit, code)


def test_quoted_constants_stand_alone_in_docstrings_and_names_vary():
    """A quoted constant is surrounded by spaces in prose ("'-'." could tokenize unlike the code's '-'); every family
    draws 3+ function names and 2+ argument names."""
    for family, make in FAMILIES.items():
        rng = random.Random(family)
        specs = [make(rng) for _ in range(100)]
        assert len({s.name for s in specs}) >= 3 and len({s.args for s in specs}) >= 2, family
        for spec in specs:
            for lit in spec.literals():
                for m in re.finditer(re.escape(lit), spec.doc) if lit.startswith("'") else ():
                    assert spec.doc[m.start() - 1] == " " and spec.doc[m.end():m.end() + 1] == " ", spec.doc


def test_same_seed_same_problems_other_seed_other_problems():
    a, b = generate_problems("rl", 60, seed=5), generate_problems("rl", 60, seed=5)
    assert a == b
    c = generate_problems("rl", 60, seed=6)
    assert [r["prompt"] for r in a] != [r["prompt"] for r in c]
    assert len({r["prompt"] + r["canonical_solution"] for r in a} & {r["prompt"] + r["canonical_solution"]
                                                                     for r in c}) < 10
    assert generate_problems("rl", 30, seed=5) == a[:30]  # a prefix: asking for more only appends
    assert [r["task_id"] for r in a[:2]] == ["minicode/rl/5/0", "minicode/rl/5/1"]


def test_splits_are_disjoint_on_family_and_constants_across_seeds():
    keys = {split: set() for split in SPLITS}
    for split in SPLITS:
        for seed in range(4):
            specs = generate_specs(split, 150, seed)
            named = [(s.family, s.constants, s.name, s.args) for s in specs]
            assert len(set(named)) == len(named)  # no duplicate within one call
            assert all(split_of(s.family, s.constants) == split for s in specs)
            keys[split] |= {(s.family, s.constants) for s in specs}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            assert not keys[a] & keys[b], (a, b)
    texts = training_text(200, seed=1)
    assert len(texts) == 200 and all(ast.parse(t) for t in texts)
    assert set(texts) <= {s.prompt + s.solution for s in generate_specs("train", 200, 1)}


def test_cli_file_loads_splits_and_passes_in_the_real_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUCODE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "eval.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "data.minicode", "--split", "eval", "--num",
                           str(2 * len(FAMILIES)), "--seed", "11", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert f"{2 * len(FAMILIES)} problems, {len(FAMILIES)} families (2-2 each)" in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    problems = load_problems(path=str(out))
    assert len(problems) == len(rows) == 2 * len(FAMILIES)
    for p, row in zip(problems, rows):
        assert p.entry_point == row["entry_point"] and p.n_base == len(p.inputs) >= 10 and p.atol == 0
        s = split_tests(p)
        assert len(s.feedback) >= 2 and len(s.heldout) >= 8
    problems = with_expected(problems, workers=2)  # the canonical solution, run in the sandbox
    for p, row in zip(problems, rows):
        assert p.expected == [["v", v] for v in row["expected_output"]], p.task_id
    results = run_many([(p, p.prompt + p.canonical_solution, None) for p in problems], workers=2, progress=False)
    assert [r.status for r in results] == ["pass"] * len(problems)
    assert all(r.passed == r.total >= 10 for r in results)
    wrong = [(p, p.prompt + p.canonical_solution.replace("return", "return 1 +", 1), None) for p in problems[:6]]
    assert all(r.status != "pass" for r in run_many(wrong, workers=2, progress=False))  # the tests can fail


def test_family_subset():
    rows = generate_problems("train", 9, seed=0, families=["affine", "rle", "toggle"])
    assert sorted(r["family"] for r in rows) == ["affine"] * 3 + ["rle"] * 3 + ["toggle"] * 3


@pytest.mark.parametrize("argv, message", [(["--split", "test"], "unknown split 'test'"),
                                           (["--num", "0"], "num must be >= 1"),
                                           (["--families", "affine,nope"], "unknown families nope")])
def test_cli_rejects_bad_values(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.jsonl").exists()
