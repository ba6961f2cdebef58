"""Reading user-given jsonl files so that a bad row is reported as FILE:LINE, with what is wrong and how to fix it.

Two policies:
- "stop" (problem, prompt, sample and pair files): the first bad row is a UsageError, raised before any work starts.
- "skip" (training data): bad rows are skipped and counted, with a note naming the first; a file whose every row
  is bad is a UsageError.
A row is bad when it is not valid JSON, not a JSON object, or lacks a required field. `required` lists field names;
an entry that is a tuple means "one of these" (e.g. ("solution", "completion")).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from data.usage import UsageError, note


@dataclass
class JsonlFile:
    path: str
    rows: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line of each row
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, what is wrong), skipped rows

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def column_names(self) -> list[str]:
        """Every key any row has (rows may differ; a missing key reads as None)."""
        return list(dict.fromkeys(k for row in self.rows for k in row))

    def where(self, i: int) -> str:
        """FILE:LINE of row i."""
        return f"{self.path}:{self.lines[i]}"


def _fields(spec: str | tuple[str, ...]) -> tuple[str, ...]:
    return (spec,) if isinstance(spec, str) else tuple(spec)


def row_problem(text: str, required: tuple = ()) -> tuple[dict | None, str | None]:
    """(the row, None) or (None, what is wrong with this line)."""
    try:
        row = json.loads(text.strip())
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg}, column {e.colno})"
    if not isinstance(row, dict):
        return None, f"expected a JSON object per line, got {type(row).__name__}"
    for spec in required:
        names = _fields(spec)
        if not any(n in row for n in names):
            return None, f"missing field {' or '.join(repr(n) for n in names)}"
    return row, None


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def read_jsonl(path: str | Path, what: str, required: tuple = (), on_bad: str = "stop") -> JsonlFile:
    """The rows of a jsonl file (blank lines ignored); `what` names the file in messages ("problems file")."""
    p = Path(path)
    if not p.is_file():
        hint = "it is a directory; give the .jsonl file inside" if p.is_dir() else "check the path"
        raise UsageError(f"{what} not found: {path} ({hint})")
    out = JsonlFile(str(path))
    try:
        with _open(p) as f:
            for lineno, text in enumerate(f, 1):
                if not text.strip():
                    continue
                row, problem = row_problem(text, required)
                if problem is None:
                    out.rows.append(row)
                    out.lines.append(lineno)
                elif on_bad == "stop":
                    raise UsageError(f"{path}:{lineno}: {problem} in the {what}; fix or delete that line")
                else:
                    out.bad.append((lineno, problem))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise UsageError(f"{what} {path} is not a UTF-8 jsonl file ({e}); give a .jsonl (or .jsonl.gz) file") from None
    if out.bad:
        first_line, first = out.bad[0]
        if not out.rows:
            raise UsageError(f"every row of the {what} {path} is bad (first: {path}:{first_line}: {first}); "
                             "fix the file or give another")
        note(f"skipped {len(out.bad)} bad row(s) of {path} (first: {path}:{first_line}: {first})")
    return out
