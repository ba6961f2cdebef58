"""The embedded default dataset: Python functions with docstrings found in source files on this machine.

prompt = the `def` line(s) plus the docstring, completion = the rest of the body, both dedented by the function's own
indentation, so a sample looks like a HumanEval task. Default root: the running interpreter's standard library, which
every machine has, so the default needs no download. Deterministic: files sorted, functions in source order.
"""

from __future__ import annotations

import ast
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

from data.examples import Example, code_regions

SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idlelib", "lib2to3", "turtledemo"}


def python_source_files(root: str | Path | None = None, limit: int | None = None) -> list[Path]:
    """Sorted .py files under root (default: the standard library), skipping tests and installed packages."""
    base = Path(root) if root else Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in base.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(base).parts[:-1]))
    return files[:limit] if limit else files


def _function_example(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Example | None:
    body = node.body
    if len(body) < 2 or not isinstance(body[0], ast.Expr) or not isinstance(body[0].value, ast.Constant):
        return None
    if not isinstance(body[0].value.value, str):
        return None
    source = textwrap.dedent("".join(lines[node.lineno - 1 : node.end_lineno]))
    split_line = body[0].end_lineno - node.lineno + 1  # lines of signature + docstring
    src_lines = source.splitlines(keepends=True)
    prompt, completion = "".join(src_lines[:split_line]), "".join(src_lines[split_line:])
    if not completion.strip() or not prompt.lstrip().startswith(("def ", "async def ")):
        return None
    return Example(prompt=prompt, completion=completion, regions=code_regions(completion), source=name)


def functions_with_docstrings(source: str, name: str = "") -> Iterator[Example]:
    """Every (possibly nested or method) function with a docstring and a non-empty body, in source order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    lines = source.splitlines(keepends=True)
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for node in sorted(nodes, key=lambda n: n.lineno):
        example = _function_example(lines, node, f"{name}:{node.lineno}")
        if example is not None:
            yield example


def build_local_corpus(
    root: str | Path | None = None, max_examples: int = 2000, max_chars: int = 2000
) -> list[Example]:
    """Up to max_examples function examples whose prompt + completion fit max_chars."""
    out: list[Example] = []
    for path in python_source_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for ex in functions_with_docstrings(text, path.name):
            if len(ex.prompt) + len(ex.completion) <= max_chars:
                out.append(ex)
                if len(out) >= max_examples:
                    return out
    return out
