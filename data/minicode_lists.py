"""minicode families, part 2: nested loops and list operations (see data/minicode_families.py for the conventions)."""

from __future__ import annotations

import random

from data.minicode_families import CMP, ELEM, GRID, LIST, Choice, cmp, ints, make


def pair(g: random.Random, op: str, k: int) -> list[int]:
    """Two values whose sum (op "+") or product (op "*") is k, half of the time."""
    if g.random() < 0.5:
        return []
    if op == "+":
        a = g.randint(0, k)
        return [a, k - a]
    a = g.choice([d for d in range(1, k + 1) if k % d == 0] or [0])
    return [a, k // a if a else g.randint(0, 6)]


def shuffled(g: random.Random, xs: list) -> list:
    g.shuffle(xs)
    return xs


# ---- nested loops ----
def count_pairs(r):
    xs, op, c, k = r.choice(LIST), Choice(r.choice("+*")), cmp(r, "== < >"), r.randint(0, 20)
    word = "sum" if op == "+" else "product"
    return make("count_pairs", r, ("count_pairs", "pairs_to_target", "matching_pairs"), [xs], (op, c, k),
                [f"Return the number of index pairs i < j with {xs}[i] {op} {xs}[j] {c} {k}.",
                 f"Count the pairs of positions i < j in {xs} whose {word} is {CMP[c]} {k}."],
                ["count = 0", f"for i in range(len({xs})):", f"    for j in range(i + 1, len({xs})):",
                 f"        if {xs}[i] {op} {xs}[j] {c} {k}:", "            count += 1", "return count"],
                lambda g: [shuffled(g, ints(g, 0, max(k, 6), 6) + pair(g, op, k))], [[[]], [[k]]])


def equal_pairs(r):
    xs, op, t = r.choice(LIST), cmp(r), r.randint(0, 20)
    return make("equal_pairs", r, ("equal_pairs", "count_duplicates", "same_value_pairs"), [xs], (op, t),
                [f"Return the number of pairs i < j with {xs}[i] == {xs}[j] and the value {CMP[op]} {t}.",
                 f"Count equal pairs in {xs} (positions i < j) whose common value v satisfies v {op} {t}."],
                ["count = 0", f"for i in range(len({xs})):", f"    for j in range(i + 1, len({xs})):",
                 f"        if {xs}[i] == {xs}[j] and {xs}[i] {op} {t}:", "            count += 1", "return count"],
                lambda g: [ints(g, t - 3, t + 3, 8)], [[[]], [[t, t]]])


def grid_sum(r):
    grid, row, x, op, k = r.choice(GRID), r.choice(("row", "line", "r")), r.choice(ELEM), cmp(r), r.randint(0, 20)
    return make("grid_sum", r, ("grid_sum", "matrix_total", "sum_cells"), [grid], (op, k),
                [f"Return the sum of the entries of the 2D list {grid} that are {CMP[op]} {k}.",
                 f"Add up every cell {x} of {grid} with {x} {op} {k}."],
                ["total = 0", f"for {row} in {grid}:", f"    for {x} in {row}:", f"        if {x} {op} {k}:",
                 f"            total += {x}", "return total"],
                lambda g: [[ints(g, k - 10, k + 12, 4) for _ in range(g.randint(0, 4))]], [[[]], [[[k]]]])


def diagonal(r):
    grid, op, k = r.choice(GRID), cmp(r), r.randint(0, 20)
    return make("diagonal", r, ("diagonal_sum", "trace_if", "sum_diagonal"), [grid], (op, k),
                [f"Return the sum of the diagonal entries {grid}[i][i] of the square matrix {grid} that are "
                 f"{CMP[op]} {k}.",
                 f"For each i, add {grid}[i][i] to the total when it is {op} {k}; return the total."],
                ["total = 0", f"for i in range(len({grid})):", f"    if {grid}[i][i] {op} {k}:",
                 f"        total += {grid}[i][i]", "return total"],
                lambda g: [[ints(g, k - 10, k + 12, m, m) for m in [g.randint(0, 4)] for _ in range(m)]],
                [[[]], [[[k]]]])


DIMS = (("n", "m"), ("rows", "cols"), ("h", "w"), ("a", "b"))


def table(r):
    (n, m), op, op2, c = r.choice(DIMS), Choice(r.choice("+*")), Choice(r.choice("+-")), r.randint(0, 20)
    return make("table", r, ("make_table", "grid_of", "build_table"), [n, m], (op, op2, c),
                [f"Return an {n} by {m} table (list of rows) whose entry in row i, column j is i {op} j {op2} {c}, "
                 f"with i and j starting at 1.",
                 f"Build rows i = 1..{n}, each a list of i {op} j {op2} {c} for j = 1..{m}."],
                ["result = []", f"for i in range(1, {n} + 1):", "    row = []", f"    for j in range(1, {m} + 1):",
                 f"        row.append(i {op} j {op2} {c})", "    result.append(row)", "return result"],
                lambda g: [g.randint(0, 4), g.randint(0, 4)], [[0, 3], [1, 1]])


# ---- list operations ----
def running(r):
    xs, x, c, op = r.choice(LIST), r.choice(ELEM), r.randint(0, 20), Choice(r.choice("+-"))
    first = Choice(r.choice(("with", "without")))
    verb = "adding" if op == "+" else "subtracting"
    return make("running", r, ("running_total", "prefix_sums", "accumulate"), [xs], (c, op, first),
                [f"Start from {c} and go through {xs}, {verb} each element; return the list of intermediate totals "
                 f"({first} the start value {c} as first entry).",
                 f"Return the running totals of {xs} starting at {c} ({first} {c} itself in front), where each step "
                 f"does total {op}= {x}."],
                [f"total = {c}", "result = [total]" if first == "with" else "result = []", f"for {x} in {xs}:", f"    total {op}= {x}", "    result.append(total)",
                 "return result"],
                lambda g: [ints(g, -5, 15, 8)], [[[]]])


def rotate(r):
    xs, k, side = r.choice(LIST), r.randint(1, 40), Choice(r.choice(("left", "right")))
    last = f"{xs}[shift:] + {xs}[:shift]" if side == "left" else f"{xs}[-shift:] + {xs}[:-shift]"
    return make("rotate", r, ("rotate", "shift_list", "cycle"), [xs], (k, side),
                [f"Return {xs} rotated {side} by {k} positions (an empty list stays empty).",
                 f"Rotate the list {xs} to the {side} {k} times and return the result."],
                [f"if not {xs}:", "    return []", f"shift = {k} % len({xs})", f"return {last}"],
                lambda g: [ints(g, 0, 9, 7, 1)], [[[]], [[1, 2, 3]]])


def chunk_agg(r):
    xs, k, agg = r.choice(LIST), r.randint(1, 12), Choice(r.choice(("sum", "max", "min")))
    full = Choice(r.choice(("kept", "dropped")))
    word = {"sum": "sums", "max": "maxima", "min": "minima"}[agg]
    end = f"len({xs})" if full == "kept" else f"len({xs}) - {k} + 1"
    return make("chunk_agg", r, ("chunk_agg", "block_totals", "group_reduce"), [xs], (k, agg, full),
                [f"Split {xs} into consecutive chunks of {k} elements (a shorter last chunk is {full}) and return "
                 f"their {word}.",
                 f"Return [{agg}(chunk) for each chunk of {k} consecutive elements of {xs}], with an incomplete last "
                 f"chunk {full}."],
                ["result = []", f"for i in range(0, {end}, {k}):", f"    result.append({agg}({xs}[i:i + {k}]))",
                 "return result"],
                lambda g: [ints(g, -5, 20, 12)], [[[]]])


def distinct_first(r):
    xs, x, k, t = r.choice(LIST), r.choice(ELEM), r.randint(1, 8), r.randint(0, 9)
    return make("distinct_first", r, ("first_distinct", "unique_prefix", "dedupe_some"), [xs], (t, k),
                [f"Return the distinct elements of {xs} in order of first appearance, ignoring the value {t} and "
                 f"stopping after {k} of them.",
                 f"Dedupe {xs} keeping first occurrences, skip every {x} equal to {t}, and keep at most {k} values."],
                ["seen = []", f"for {x} in {xs}:", f"    if {x} != {t} and {x} not in seen:",
                 f"        seen.append({x})", f"        if len(seen) == {k}:", "            break", "return seen"],
                lambda g: [ints(g, 0, 9, 12)], [[[]], [[t, t]]])


def window_max(r):
    xs, k, d = r.choice(LIST), r.randint(1, 5), r.randint(0, 20)
    return make("window_max", r, ("window_max", "best_window", "max_run_sum"), [xs], (k, d),
                [f"Return the largest sum of {k} consecutive elements of {xs}, or {d} if {xs} has fewer than {k} "
                 f"elements.",
                 f"Slide a window of length {k} over {xs} and return the biggest window sum ({d} if none fits)."],
                [f"if len({xs}) < {k}:", f"    return {d}", f"best = sum({xs}[:{k}])",
                 f"for i in range(1, len({xs}) - {k} + 1):", f"    best = max(best, sum({xs}[i:i + {k}]))",
                 "return best"],
                lambda g: [ints(g, -9, 15, 9)], [[[]], [list(range(k))]])
