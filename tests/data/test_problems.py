"""Problems: loading (evalplus datasets offline, jsonl), expected outputs with their cache, deterministic split."""

from __future__ import annotations

import json

import pytest

from data.problems import SHARED_DATA, Problem, TestSplit, load_problems, split_tests

HAVE_SHARED = (SHARED_DATA / "MbppPlus.jsonl.gz").exists() and (SHARED_DATA / "HumanEvalPlus.jsonl.gz").exists()


def toy(n: int, task_id: str = "toy/1") -> Problem:
    return Problem(task_id=task_id, prompt="", entry_point="f", inputs=[[i] for i in range(n)])


def test_split_is_deterministic_disjoint_and_complete():
    for n in (2, 3, 5, 17, 100):
        s = split_tests(toy(n))
        assert s == split_tests(toy(n))
        assert len(s.feedback) >= 1 and not set(s.feedback) & set(s.heldout)
        assert sorted(s.feedback + s.heldout) == list(range(n))
    assert len(split_tests(toy(100)).feedback) == 20
    assert split_tests(toy(100), seed=1) != split_tests(toy(100), seed=42)
    assert split_tests(toy(100, "a")) != split_tests(toy(100, "b"))
    assert split_tests(toy(100), 0.5).feedback != split_tests(toy(100)).feedback


def test_held_out_split_is_never_empty():
    """An empty T_eval passes any program: a single test stays held out, and problems without tests are refused."""
    assert split_tests(toy(1)) == TestSplit([], [0])
    for n in (2, 3, 5):
        for fraction in (0.2, 0.5, 0.9, 1.0):
            s = split_tests(toy(n), fraction)
            assert len(s.heldout) >= 1 and len(s.feedback) >= 1 and sorted(s.feedback + s.heldout) == list(range(n))
    with pytest.raises(ValueError, match="toy/empty"):
        split_tests(toy(0, "toy/empty"))


def test_a_single_test_problem_is_not_passed_by_a_wrong_program():
    from repair.execution import Limits, run_tests

    one = Problem(task_id="toy/one", prompt="", entry_point="f", tests=["assert f(1) == 2"])
    held = run_tests(one, "def f(x):\n    return 0\n", split_tests(one).heldout,
                     limits=Limits(timeout_per_test=2.0, timeout_per_problem=10.0))
    assert held.total == 1 and held.status == "fail"


def test_loading_refuses_problems_without_tests(tmp_path):
    rows = [{"task_id": "acecode/none", "prompt": "", "entry_point": "f", "tests": []},
            {"task_id": "acecode/ok", "prompt": "", "entry_point": "f", "tests": ["assert f(1) == 2"]},
            {"task_id": "acecode/also_none", "prompt": "", "entry_point": "g"}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match="2 problem.*acecode/none, acecode/also_none"):
        load_problems(path=str(path))


def test_loading_refuses_a_call_style_row_without_entry_point_by_file_and_line(tmp_path):
    """Issue 29.6: function-call tests with no function to call (no expected outputs, every program fails silently)
    are refused before any model runs, naming FILE:LINE; assert-style rows name what they call and load."""
    from data.usage import UsageError

    rows = [{"task_id": "t/ok", "prompt": "", "entry_point": "f", "base_input": [[1]], "plus_input": []},
            {"task_id": "t/assert", "prompt": "", "tests": ["assert f(1) == 2"]},
            {"task_id": "t/nameless", "prompt": "def f(x):\n", "base_input": [[1]], "plus_input": []},
            {"task_id": "t/empty", "prompt": "", "entry_point": "", "base_input": [[2]]},
            {"task_id": "t/null", "prompt": "", "entry_point": None, "base_input": [[3]]}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UsageError, match=rf"^{path}:3: 3 problem\(s\) .*no 'entry_point'.*t/nameless, t/empty, t/null"):
        load_problems(path=str(path))
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]))
    ok, asserts = load_problems(path=str(path))
    assert ok.entry_point == "f" and asserts.entry_point == "" and asserts.tests == ["assert f(1) == 2"]


def test_jsonl_problems_and_assert_style(tmp_path):
    rows = [
        {"task_id": "Mbpp/2", "prompt": "", "entry_point": "similar_elements", "canonical_solution": "",
         "base_input": [[[3, 4], [5, 4]]], "plus_input": [], "atol": 0},
        {"task_id": "acecode/1", "prompt": "Write f.", "entry_point": "f", "test_cases": ["assert f(1) == 2"]},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    mbpp, ace = load_problems(path=str(path))
    assert mbpp.dataset == "mbpp" and mbpp.inputs == [[(3, 4), (5, 4)]]  # evalplus deserialisation: tuples
    assert ace.tests == ["assert f(1) == 2"] and ace.dataset == ""
    assert split_tests(ace) == TestSplit([], [0])  # its only test is held out, never given as feedback
    with pytest.raises(ValueError):
        load_problems()


@pytest.mark.skipif(not HAVE_SHARED, reason="offline evalplus data not next to the repo")
def test_evalplus_datasets_offline():
    he, mbpp = load_problems("humaneval"), load_problems("mbpp")
    assert len(he) == 164 and len(mbpp) == 378
    p = next(x for x in mbpp if x.task_id == "Mbpp/2")
    assert isinstance(p.inputs[0][0], tuple) and p.n_base > 0 and p.dataset == "mbpp"
    assert he[0].task_id == "HumanEval/0" and he[0].inputs and he[0].atol >= 0
