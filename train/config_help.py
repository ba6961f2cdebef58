"""`--help` of the config-driven entry points (train/sft.py, rl/grpo.py), generated from their config dataclasses.

Every key is listed, nested ones as `data.name`, with its type, default and one line of meaning. The meaning is the
comment on the field's own line in the dataclass (else the comment lines right above it), so the help is read from
the same lines as the code and cannot drift from it; tests/train/test_config_help.py checks that every field of every
config has one. The launch line is the entry script's docstring section that starts with "Launch:".
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import os
import sys
import textwrap
import tokenize
from functools import cache

HELP_FLAGS = ("-h", "--help")
_CODE_FREE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@cache
def declared_comments(cls: type) -> dict[str, str]:
    """The fields `cls` itself declares -> their comment: the one on the field's line, else the block right above."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a frozen build): the help lists keys without meanings
        return {}
    comments, code_lines = {}, set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
        elif tok.type not in _CODE_FREE:
            code_lines.add(tok.start[0])
    found = {}
    for node in ast.parse(source).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        text = comments.get(node.end_lineno) or comments.get(node.lineno)
        line, above = node.lineno - 1, []
        while not text and line in comments and line not in code_lines:
            above.insert(0, comments[line])
            line -= 1
        found[node.target.id] = text or " ".join(above)
    return found


def field_meaning(cls: type, name: str) -> str:
    """The comment of field `name`, from the most derived class in cls's MRO that declares it with one."""
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass) and declared_comments(klass).get(name):
            return declared_comments(klass)[name]
    return ""


def _type_name(tp) -> str:
    if isinstance(tp, str):  # `from __future__ import annotations`: the annotation as written
        return tp
    return getattr(tp, "__name__", str(tp))


def _value(value) -> str:
    """A default as it is written in YAML or on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and (not value or value != value.strip() or any(c in value for c in "\n:{}[],#'\"")):
        return repr(value)
    return str(value)


def config_keys(cls: type, instance=None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) of every field, depth first; a nested config is a row, then its own keys."""
    instance = cls() if instance is None else instance
    rows = []
    for f in dataclasses.fields(cls):
        value, key = getattr(instance, f.name), f"{prefix}{f.name}"
        meaning = field_meaning(cls, f.name)
        if dataclasses.is_dataclass(value):
            rows.append((key, _type_name(f.type), "", meaning))
            rows += config_keys(type(value), value, f"{key}.")
        else:
            rows.append((key, _type_name(f.type), _value(value), meaning))
    return rows


def launch_section(doc: str | None) -> str:
    """The docstring's paragraph that starts with "Launch:" (up to the next blank line)."""
    lines = (doc or "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Launch:")), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[start:end])


def config_help(cls: type, doc: str | None = None) -> str:
    """The help text of an entry point whose settings are `cls` (doc: its docstring; default: cls's module's)."""
    doc = doc if doc is not None else sys.modules[cls.__module__].__doc__
    out = [(doc or "").strip().splitlines()[0] if doc else cls.__name__, ""]
    if launch_section(doc):
        out += [launch_section(doc), ""]
    out += ["Settings: the defaults below <- a YAML file (--config FILE.yaml, nested keys as mappings) <- key=value",
            "overrides (nested keys dotted: data.name=minicode, lora.r=16). The resolved config is saved as",
            "OUTPUT_DIR/config.yaml. --debug shows the traceback of a config error.", "", "Keys:"]
    for key, type_name, default, meaning in config_keys(cls):
        out.append(f"  {key}: {type_name}" + (f" = {default}" if default else ""))
        out += textwrap.wrap(meaning or "(no description)", 110, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(out)


def help_requested(argv: list[str]) -> bool:
    return any(arg in HELP_FLAGS for arg in argv)


def print_help_and_exit(cls: type) -> None:
    """Print the help (rank 0 only: under a launcher every rank gets --help) and exit with status 0."""
    if os.environ.get("RANK", "0") in ("", "0"):
        print(config_help(cls), flush=True)
    sys.exit(0)
