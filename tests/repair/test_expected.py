"""Expected outputs of reference solutions: computed once in the sandbox, then read from the cache."""

from __future__ import annotations

from data.problems import Problem
from repair.execution.expected import with_expected


def test_expected_outputs_are_computed_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUCODE_CACHE", str(tmp_path))
    p = Problem(task_id="toy/sq", prompt="def f(x):\n", entry_point="f", canonical_solution="    return x * x\n",
                inputs=[[2], [3.5], [-1]])
    (done,) = with_expected([p], workers=1)
    assert done.expected == [["v", 4], ["v", 12.25], ["v", 1]]
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1
    files[0].write_text(files[0].read_text().replace("12.25", "99.5"))  # prove the second call reads the cache
    (again,) = with_expected([p], workers=1)
    assert again.expected[1] == ["v", 99.5]
