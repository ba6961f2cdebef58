"""Expected outputs of reference solutions: each canonical solution runs once in the sandbox, and its outputs are
cached under $DIFFUCODE_CACHE (default ~/.cache/diffucode)/expected/<dataset>/<content hash>.json.

Lives in the execution core (not data/): running code is execution's concern; data/ only loads and splits problems.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from data.problems import Problem
from repair.execution import codec
from repair.execution.execution import default_pool, reference_outputs
from repair.execution.sandbox import Limits

_CACHE_FORMAT = b"expected-v3"  # bump when the stored encoding changes


def cache_dir() -> Path:
    return Path(os.environ.get("DIFFUCODE_CACHE") or Path.home() / ".cache" / "diffucode")


def content_hash(problem: Problem) -> str:
    h = hashlib.sha256(_CACHE_FORMAT)
    for part in (problem.dataset, problem.task_id, problem.prompt, problem.canonical_solution, problem.entry_point,
                 repr(problem.atol), codec.digest(problem.inputs)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def _cache_path(problem: Problem) -> Path:
    return cache_dir() / "expected" / (problem.dataset or "custom") / f"{content_hash(problem)}.json"


def _load_cached(path: Path) -> tuple[list, float] | None:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return [[kind, codec.from_tree(v) if kind == "v" else v] for kind, v in stored["entries"]], stored["seconds"]


def _store(path: Path, entries: list, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    encoded = [[kind, codec.to_tree(v) if kind == "v" else v] for kind, v in entries]
    tmp.write_text(json.dumps({"entries": encoded, "seconds": seconds}))
    os.replace(tmp, path)  # atomic: concurrent writers of the same problem produce the same file


def with_expected(problems: list[Problem], *, workers: int = 2, progress: bool = False,
                  timeout_per_test: float = 60.0, timeout_per_problem: float = 600.0) -> list[Problem]:
    """Problems with `expected` filled: from the disk cache, else by running the canonical solution once."""
    limits = Limits(timeout_per_test=timeout_per_test, timeout_per_problem=timeout_per_problem)
    pool = default_pool(workers)

    def one(p: Problem) -> Problem:
        if p.tests or p.expected is not None:
            return p
        path = _cache_path(p)
        cached = _load_cached(path)
        if cached is None:
            with pool.lease() as sb:
                cached = reference_outputs(p, p.prompt + p.canonical_solution, limits=limits, sandbox=sb)
            _store(path, *cached)
        return replace(p, expected=cached[0], reference_seconds=cached[1])

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        it = ex.map(one, problems)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(problems), desc="expected outputs")
        return list(it)
