"""The streamed rows of a repair evaluation on disk: OUT/runs/<strategy>.seed<seed>.jsonl, one row per problem, and
the rank parts of a data-parallel run (OUT/runs/parts/...), which rank 0 merges. Reading never fails on a torn last
line, so a crashed or running evaluation can always be reported; `open_run` and `read_rows` also serve the other
row-streaming entry point, repair.resume_repair.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

_RUN_FILE = re.compile(r"^(?P<strategy>.+)\.seed(?P<seed>-?\d+)\.jsonl$")


def run_path(out: str | Path, strategy: str, seed: int) -> Path:
    return Path(out) / "runs" / f"{strategy}.seed{seed}.jsonl"


def read_rows(path: str | Path, key: str | None = "task_id") -> list[dict]:
    """Complete rows of one jsonl; a torn last line (crash mid-write) is ignored, a repeated `key` keeps the first
    (key None: every row)."""
    rows, seen = [], set()
    text = Path(path).read_text() if Path(path).exists() else ""
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if key is None or row[key] not in seen:
            seen.add(None if key is None else row[key])
            rows.append(row)
    return rows


def open_run(path: Path):
    """Append handle of a run file whose torn last line (a crash mid-write) is cut off first."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
    return path.open("a")


def part_path(out: str | Path, strategy: str, seed: int, rank: int) -> Path:
    """Where one rank of a (possibly data-parallel) run appends its rows; rank 0 merges them at the end."""
    return Path(out) / "runs" / "parts" / f"{strategy}.seed{seed}.rank{rank}.jsonl"


def _run_files(out: str | Path) -> dict[tuple[str, int], list[Path]]:
    """(strategy, seed) -> its merged file first, then the rank parts not merged yet."""
    files: dict[tuple[str, int], list[Path]] = defaultdict(list)
    runs = Path(out) / "runs"
    for path in sorted(runs.glob("*.jsonl")) + sorted(runs.glob("parts/*.jsonl")):
        m = _RUN_FILE.match(re.sub(r"\.rank\d+\.jsonl$", ".jsonl", path.name))
        if m:
            files[(m["strategy"], int(m["seed"]))].append(path)
    return files


def merged_rows(paths: list[Path]) -> list[dict]:
    """Rows of several files of one (strategy, seed); a task present twice (a rerun racing a kill) keeps the first."""
    rows, seen = [], set()
    for path in paths:
        for row in read_rows(path):
            if row["task_id"] not in seen:
                seen.add(row["task_id"])
                rows.append(row)
    return rows


def load_runs(out: str | Path) -> dict[tuple[str, int], list[dict]]:
    """Every (strategy, seed) -> its rows, merged over the run file and unmerged rank parts."""
    return {key: merged_rows(paths) for key, paths in sorted(_run_files(out).items())}


def merge_parts(out: str | Path, order: list[str]) -> None:
    """Fold the rank parts into OUT/runs/<strategy>.seed<seed>.jsonl, rows in `order` (the problem list's order).

    Written to a temporary file and renamed before the parts are removed: a crash at any point loses no row.
    """
    rank_of = {t: i for i, t in enumerate(order)}
    for (strategy, seed), paths in _run_files(out).items():
        rows = sorted(merged_rows(paths), key=lambda r: rank_of.get(r["task_id"], len(order)))
        target = run_path(out, strategy, seed)
        tmp = target.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(target)
        for path in paths:
            if path != target:
                path.unlink()
