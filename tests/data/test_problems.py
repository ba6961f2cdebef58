"""Problems: loading (evalplus datasets offline, jsonl), expected outputs with their cache, deterministic split."""

from __future__ import annotations

import json

import pytest

from data.problems import SHARED_DATA, Problem, load_problems, split_tests

HAVE_SHARED = (SHARED_DATA / "MbppPlus.jsonl.gz").exists() and (SHARED_DATA / "HumanEvalPlus.jsonl.gz").exists()


def toy(n: int, task_id: str = "toy/1") -> Problem:
    return Problem(task_id=task_id, prompt="", entry_point="f", inputs=[[i] for i in range(n)])


def test_split_is_deterministic_disjoint_and_complete():
    for n in (1, 2, 3, 5, 17, 100):
        s = split_tests(toy(n))
        assert s == split_tests(toy(n))
        assert len(s.feedback) >= 1 and not set(s.feedback) & set(s.heldout)
        assert sorted(s.feedback + s.heldout) == list(range(n))
    assert len(split_tests(toy(100)).feedback) == 20
    assert split_tests(toy(100), seed=1) != split_tests(toy(100), seed=42)
    assert split_tests(toy(100, "a")) != split_tests(toy(100, "b"))
    assert split_tests(toy(100), 0.5).feedback != split_tests(toy(100)).feedback


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
    assert len(split_tests(ace).feedback) == 1
    with pytest.raises(ValueError):
        load_problems()


@pytest.mark.skipif(not HAVE_SHARED, reason="offline evalplus data not next to the repo")
def test_evalplus_datasets_offline():
    he, mbpp = load_problems("humaneval"), load_problems("mbpp")
    assert len(he) == 164 and len(mbpp) == 378
    p = next(x for x in mbpp if x.task_id == "Mbpp/2")
    assert isinstance(p.inputs[0][0], tuple) and p.n_base > 0 and p.dataset == "mbpp"
    assert he[0].task_id == "HumanEval/0" and he[0].inputs and he[0].atol >= 0
