"""Last-mile repair scored as CodeFusion scores it (seed 001): a test set of syntactically invalid programs
only, execution match and sketch match per candidate, and BIFI's criterion kept as a third, labelled column.

The paper's definitions (seed 001_eb514934ad5bf327.txt):
- Section 3: "Let ĉ be a buggy code snippet that is not accepted by the compiler. [...] Like previous work on
  last-mile repair, we only consider syntactic errors." Section 4.1, Benchmarks (Python): "We evaluate on a random
  sample of 200 syntactically invalid Python code snippets."
- Section 4.1, Metrics: "When available, we use execution match—comparing the output of executing the repaired
  code with an expected output—which allows for semantically different but functionally equivalent code snippets.
  To further analyze the syntactic closeness of the repairs to the original code, we also report sketch match,
  which is implemented as the exact string match of code with constants (strings, numbers, cell references)
  anonymized. For example, a noisy code snippet SUM(A1:A10)/COUNT(A1:A10) and its diffusion repaired snippet
  AVERAGE(A1:A10) match in execution but not in their sketches (SUM(:)/COUNT(:) and AVERAGE(:))."
- Section 4.1, Benchmarks (Python): "These do not have a ground truth repair, hence, we employ the same evaluation
  metric described in the BIFI paper using (1) syntactic validity and (2) token edit distance < 5." Our rows carry
  the ground truth (the fixed program and its problem's tests), so we score them as the paper does where it has
  one; BIFI's criterion (parses, 0 < token edit distance <= 4, and the tests when present: this project's old
  criterion) stays as the third column `last_mile_old`.

What we chose where the paper is vague:
- Test set: a row is evaluated iff its `broken` fails `ast.parse` (Python's "compiler"); the others are dropped
  and counted (`dropped_parseable`).
- Execution match: the "expected output" is the row's `tests` (asserts comparing calls with the canonical
  solution's outputs): the candidate parses and passes all of them in the sandbox. A row without tests cannot be
  execution-matched: counted (`no_tests`) and left out of that rate's denominator, never passed.
- Sketch match: Python's analogue of a cell reference is a name, and Excel's function names (SUM, AVERAGE) stay in
  the paper's sketches, so NAME tokens are anonymized except keywords (keyword.kwlist, True/False/None included)
  and the public names of `builtins` (len, range, print, ...), which stay as written; NUMBER and STRING tokens (and
  f-string text) are anonymized. Attribute names and the names a program defines are names, so anonymized. Every
  name gets the same placeholder (no consistent renaming: the paper's sketch drops the references altogether).
  Operators, brackets and keywords must match exactly. Comments, blank lines and spacing within a line are
  ignored; indentation counts only as INDENT / DEDENT structure. The candidate must parse (a repair is "accepted
  by the compiler") and is compared with the row's `fixed` program, which must parse; a row without one cannot be
  sketch-matched: counted (`no_fixed`), left out of that rate's denominator, never passed.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize

from repair.pairs import parse_error, token_edit_distance

MAX_EDIT = 4  # BIFI's last-mile budget: token edit distance < 5
METRICS = ("execution_match", "sketch_match", "last_mile_old")
KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(n for n in dir(builtins) if not n.startswith("_"))
_IGNORED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_STRUCTURE = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}  # compared by type: the spaces do not count
_LITERALS = {tokenize.NUMBER: "<num>", tokenize.STRING: "<str>"}
if hasattr(tokenize, "FSTRING_MIDDLE"):  # Python >= 3.12 splits f-strings; their text is a literal
    _LITERALS[tokenize.FSTRING_MIDDLE] = "<str>"


def sketch(code: str) -> tuple[str, ...] | None:
    """The program's tokens with names and literals anonymized (see the module docstring); None if it does not
    tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return None
    out = []
    for tok in tokens:
        if tok.type in _IGNORED:
            continue
        if tok.type == tokenize.NAME:
            out.append(tok.string if tok.string in KEPT_NAMES else "<id>")
        elif tok.type in _LITERALS:
            out.append(_LITERALS[tok.type])
        elif tok.type in _STRUCTURE:
            out.append(tokenize.tok_name[tok.type])
        else:  # operators and punctuation, exactly as written
            out.append(tok.string)
    return tuple(out)


def sketch_target(fixed: str | None) -> tuple[str, ...] | None:
    """The sketch a repair must reach: None when the row has no `fixed` program or it does not parse."""
    return sketch(fixed) if fixed and parse_error(fixed) is None else None


def sketch_match(candidate: str, fixed: str) -> bool:
    """The candidate parses and has the fixed program's sketch."""
    target = sketch_target(fixed)
    return target is not None and parse_error(candidate) is None and sketch(candidate) == target


def invalid_only(rows: list[dict]) -> tuple[list[dict], dict]:
    """(the rows whose `broken` does not parse, counts): the test set of last-mile repair. Counts: input_rows,
    dropped_parseable, programs (kept), and no_fixed / no_tests: kept rows that cannot be sketch- / execution-
    matched."""
    kept = [r for r in rows if parse_error(r["broken"]) is not None]
    return kept, {
        "input_rows": len(rows), "dropped_parseable": len(rows) - len(kept), "programs": len(kept),
        "no_fixed": sum(sketch_target(r.get("fixed")) is None for r in kept),
        "no_tests": sum(not r.get("tests") for r in kept),
    }


def _passes(programs: list[str], tests: list[str]) -> dict[str, bool]:
    """Each distinct program -> whether it passes every test in the sandbox (as repair.synthesize's filter runs)."""
    from repair.execution.scoring import pass_fractions

    run = sorted(set(programs))
    return dict(zip(run, (f == 1.0 for f in pass_fractions(run, [tests] * len(run), 2.0, 10.0, 1))))


def score(broken: str, candidates: list[str], fixed: str | None, tests: list[str] | None) -> dict:
    """{metric: [bool per candidate] or None when the row cannot be scored on it} for METRICS. Tests run once per
    distinct candidate that parses."""
    parses = [parse_error(c) is None for c in candidates]
    passed = _passes([c for c, p in zip(candidates, parses) if p], tests) if tests else {}
    target = sketch_target(fixed)
    sketched = [p and sketch(c) == target for c, p in zip(candidates, parses)]
    near = [p and 0 < token_edit_distance(broken, c) <= MAX_EDIT for c, p in zip(candidates, parses)]
    return {
        "execution_match": [p and passed[c] for c, p in zip(candidates, parses)] if tests else None,
        "sketch_match": sketched if target is not None else None,
        "last_mile_old": [n and (passed[c] if tests else True) for c, n in zip(candidates, near)],
    }
