"""minicode families, part 1: the Spec record, shared helpers, arithmetic, branches, loops, early returns and
filtered comprehensions.

A family is `f(rng) -> Spec`: it draws a function name, argument names, constants (ints and quoted strings, written
identically in the docstring and the code) and `Choice`s (operators and variants, described in words), a docstring
phrasing, and returns the prompt, the canonical body and a way to draw test inputs. Part 2 (nested loops, list
operations) is data/minicode_lists.py, part 3 (strings, dicts, state machines) data/minicode_text.py; the registry
and the splits are in data/minicode.py.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field


class Choice(str):
    """A randomized choice that is not a literal of the code (an operator or a variant): part of the split key,
    but not copied verbatim from the docstring (it is described in words, or written as an operator)."""


@dataclass(frozen=True)
class Spec:
    family: str
    name: str
    args: tuple[str, ...]
    constants: tuple  # ints, strs (literals: str(int) / repr(str) appear in docstring and code) and Choices
    doc: str
    prompt: str  # def name(args):\n    """doc"""\n
    solution: str  # the body, each line indented by 4 spaces, ending with "\n"
    draw: Callable[[random.Random], list] = field(repr=False)  # one argument list
    edges: tuple = ()  # fixed edge-case argument lists, always tested

    def inputs(self, rng: random.Random, num: int = 12) -> list[list]:
        """Argument lists: the edge cases first, then random draws, without repeats (compared as JSON)."""
        seen, out, edges = set(), [], [list(e) for e in self.edges]
        for _ in range(50 * num):
            if len(out) >= num:
                break
            args = edges.pop(0) if edges else self.draw(rng)
            key = json.dumps(args)
            if key not in seen:
                seen.add(key)
                out.append(args)
        return out

    def literals(self) -> list[str]:
        """The source text of every literal constant (what must appear verbatim in docstring and code)."""
        return [repr(c) if isinstance(c, str) else str(c) for c in self.constants if not isinstance(c, Choice)]


def make(family: str, r: random.Random, names: tuple[str, ...], args: list[str], constants: tuple,
         docs: list[str], body: list[str], draw: Callable[[random.Random], list], edges: list | tuple = ()) -> Spec:
    name, doc = r.choice(names), r.choice(docs)
    prompt = f'def {name}({", ".join(args)}):\n    """{doc}"""\n'
    solution = "".join(f"    {line}\n" for line in body)
    return Spec(family, name, tuple(args), tuple(constants), doc, prompt, solution, draw, tuple(edges))


# argument-name pools per role (element and loop variables are drawn from pools disjoint from these)
INT = ("n", "x", "num", "value")
LIST = ("xs", "nums", "values", "items", "data", "arr")
STR = ("s", "text", "word", "string")
SENT = ("s", "text", "sentence", "line")
GRID = ("grid", "matrix", "rows", "table")
ELEM = ("v", "item", "e", "el")
CMP = {"<": "less than", ">": "greater than", "<=": "at most", ">=": "at least", "==": "equal to",
       "!=": "not equal to"}


def cmp(r: random.Random, ops: str = "< > <= >=") -> Choice:
    return Choice(r.choice(ops.split()))


def ints(g: random.Random, lo: int, hi: int, n_max: int = 8, n_min: int = 0) -> list[int]:
    return [g.randint(lo, hi) for _ in range(g.randint(n_min, n_max))]


# ---- arithmetic with constants ----
def affine(r):
    n, a, op, b = r.choice(INT), r.randint(2, 12), Choice(r.choice("+-")), r.randint(1, 20)
    e, verb = f"{a} * {n} {op} {b}", "add" if op == "+" else "subtract"
    return make("affine", r, ("affine", "linear", "scale_shift"), [n], (a, op, b),
                [f"Return {e}.", f"Compute {e} for the integer {n}.", f"Multiply {n} by {a}, then {verb} {b}."],
                [f"return {e}"], lambda g: [g.randint(-30, 30)], [[0]])


def clamp(r):
    n, lo = r.choice(INT), r.randint(0, 10)
    hi = lo + r.randint(1, 12)
    return make("clamp", r, ("clamp", "limit", "bound"), [n], (lo, hi),
                [f"Return {n} clamped to the range from {lo} to {hi}.",
                 f"Return {lo} if {n} is below {lo}, {hi} if {n} is above {hi}, and {n} otherwise."],
                [f"if {n} < {lo}:", f"    return {lo}", f"if {n} > {hi}:", f"    return {hi}", f"return {n}"],
                lambda g: [g.randint(lo - 6, hi + 6)], [[lo], [hi]])


def abs_diff(r):
    n, c, k = r.choice(INT), r.randint(0, 20), r.randint(1, 9)
    return make("abs_diff", r, ("scaled_distance", "distance_to", "abs_gap"), [n], (k, c),
                [f"Return {k} times the absolute difference between {n} and {c}.",
                 f"Return how far {n} is from {c}, multiplied by {k}."],
                [f"d = {n} - {c}", "if d < 0:", "    d = -d", f"return d * {k}"],
                lambda g: [g.randint(-10, 30)], [[c]])


def quot_rem(r):
    n, a, op, b = r.choice(INT), r.randint(2, 9), Choice(r.choice("+-")), r.randint(2, 9)
    word = "plus" if op == "+" else "minus"
    return make("quot_rem", r, ("quot_rem", "div_mod_mix", "split_number"), [n], (a, op, b),
                [f"Return {n} // {a} {op} {n} % {b}.",
                 f"Return the quotient of {n} divided by {a} {word} the remainder of {n} divided by {b}."],
                [f"q = {n} // {a}", f"rem = {n} % {b}", f"return q {op} rem"],
                lambda g: [g.randint(0, 100)], [[0]])


def digit_sum(r):
    n, b, c = r.choice(INT), r.randint(2, 10), r.randint(0, 20)
    return make("digit_sum", r, ("digit_sum", "sum_digits", "digits_total"), [n], (b, c),
                [f"Return the sum of the digits of {n} in base {b}, plus {c}.",
                 f"Add up the base {b} digits of the non-negative integer {n}, then add {c}."],
                ["total = 0", f"while {n} > 0:", f"    total += {n} % {b}", f"    {n} //= {b}", f"return total + {c}"],
                lambda g: [g.randint(0, 999)], [[0], [b]])


def count_divisions(r):
    n, d, lim = r.choice(INT), r.randint(2, 9), r.randint(0, 20)
    return make("count_divisions", r, ("count_divisions", "halving_steps", "shrink_steps"), [n], (d, lim),
                [f"Return how many times {n} must be floor-divided by {d} until it is at most {lim}.",
                 f"Count the integer divisions of {n} by {d} needed to bring it down to {lim} or less."],
                ["steps = 0", f"while {n} > {lim}:", f"    {n} = {n} // {d}", "    steps += 1", "return steps"],
                lambda g: [g.randint(-5, 400)], [[lim], [lim + 1]])


def grow_steps(r):
    n, a, b, lim = r.choice(INT), r.randint(2, 4), r.randint(1, 9), r.randint(10, 60)
    return make("grow_steps", r, ("grow_steps", "steps_to_reach", "growth_count"), [n], (a, b, lim),
                [f"Starting from {n}, repeatedly replace {n} by {n} * {a} + {b}; return how many steps it takes "
                 f"until {n} is at least {lim}.",
                 f"Return the number of updates {n} = {n} * {a} + {b} needed before {n} reaches {lim}."],
                ["steps = 0", f"while {n} < {lim}:", f"    {n} = {n} * {a} + {b}", "    steps += 1", "return steps"],
                lambda g: [g.randint(0, 70)], [[0], [lim]])


def gcd_with(r):
    n, k, kind = r.choice(INT), r.randint(2, 40), Choice(r.choice(("gcd", "lcm")))
    what = "greatest common divisor" if kind == "gcd" else "least common multiple"
    return make("gcd_with", r, (f"{kind}_with", f"{kind}_of", f"{kind}_value"), [n], (k, kind),
                [f"Return the {what} of {n} and {k}, using Euclid's algorithm.",
                 f"Return {kind}({n}, {k}) for a non-negative integer {n}."],
                [f"a, b = {n}, {k}", "while b:", "    a, b = b, a % b", "return a" if kind == "gcd" else
                 f"return {n} * {k} // a"],
                lambda g: [g.randint(0, 200)], [[0], [k]])


# ---- if / elif / else ----
LEVELS = (("A", "B", "C"), ("high", "mid", "low"), ("big", "medium", "small"), ("gold", "silver", "bronze"),
          ("hot", "warm", "cold"))


def grade(r):
    n, (a, b, c) = r.choice(INT), r.choice(LEVELS)
    hi = r.randint(8, 20)
    lo = r.randint(0, hi - 1)
    return make("grade", r, ("grade", "classify", "rank_value"), [n], (a, b, c, hi, lo),
                [f"Return {a!r} if {n} is at least {hi}, {b!r} if it is at least {lo}, and {c!r} otherwise.",
                 f"Classify {n}: {a!r} when {n} >= {hi}, {b!r} when {n} >= {lo}, else {c!r} as the label."],
                [f"if {n} >= {hi}:", f"    return {a!r}", f"elif {n} >= {lo}:", f"    return {b!r}", "else:",
                 f"    return {c!r}"],
                lambda g: [g.randint(lo - 5, hi + 5)], [[lo], [hi]])


SIDES = (("above", "below", "equal"), ("up", "down", "same"), ("more", "less", "tie"), ("over", "under", "exact"))


def compare_to(r):
    n, t, (a, b, c) = r.choice(INT), r.randint(0, 20), r.choice(SIDES)
    return make("compare_to", r, ("compare_to", "side_of", "relation"), [n], (t, a, b, c),
                [f"Return {a!r} if {n} is greater than {t}, {b!r} if it is less than {t}, and {c!r} otherwise.",
                 f"Compare {n} with {t}: {a!r} when larger, {b!r} when smaller, {c!r} when equal."],
                [f"if {n} > {t}:", f"    return {a!r}", f"elif {n} < {t}:", f"    return {b!r}", "else:",
                 f"    return {c!r}"],
                lambda g: [g.randint(t - 6, t + 6)], [[t]])


WORDS2 = (("Fizz", "Buzz"), ("Foo", "Bar"), ("Ping", "Pong"), ("Tic", "Tac"))


def fizzbuzz(r):
    n, (u, w) = r.choice(INT), r.choice(WORDS2)
    a, b = r.choice([(a, b) for a in range(2, 10) for b in range(2, 10) if a % b and b % a])
    return make("fizzbuzz", r, ("fizzbuzz", "say_number", "divisor_word"), [n], (a, b, u, w, u + w),
                [f"Return {u + w!r} if {n} is divisible by both {a} and {b}, {u!r} if only by {a}, {w!r} if only by "
                 f"{b}, and str({n}) otherwise.",
                 f"FizzBuzz with {a} and {b}: {u!r} for multiples of {a}, {w!r} for multiples of {b}, {u + w!r} for "
                 f"both, else the number as a string."],
                [f"if {n} % {a} == 0 and {n} % {b} == 0:", f"    return {u + w!r}", f"elif {n} % {a} == 0:",
                 f"    return {u!r}", f"elif {n} % {b} == 0:", f"    return {w!r}", f"return str({n})"],
                lambda g: [g.randint(0, 100)], [[0], [a * b], [a], [b], [1]])


def max3(r):
    a, b, c = r.choice((("a", "b", "c"), ("x", "y", "z"), ("p", "q", "r")))
    op, bop, lim = cmp(r, "> <"), cmp(r, "> <"), r.randint(0, 20)
    most, bound = "largest" if op == ">" else "smallest", "at most" if bop == ">" else "at least"
    return make("max3", r, ("pick3", "extreme_of_three", "best_of_three"), [a, b, c], (op, bop, lim),
                [f"Return the {most} of {a}, {b} and {c}, but {bound} {lim}.",
                 f"Return the {most} of the three numbers, limited to be {bound} {lim}."],
                [f"best = {a}", f"if {b} {op} best:", f"    best = {b}", f"if {c} {op} best:", f"    best = {c}",
                 f"if best {bop} {lim}:", f"    best = {lim}", "return best"],
                lambda g: [lim + c + g.randint(-4, 4) for c in [g.randint(-8, 8)] for _ in range(3)],
                [[lim, lim, lim]])


# ---- loops with accumulators ----
def sum_multiples(r):
    n, s, k, op = r.choice(INT), r.randint(0, 5), r.randint(2, 12), cmp(r, "== !=")
    neg = "" if op == "==" else "not "
    return make("sum_multiples", r, ("sum_multiples", "sum_divisible", "multiples_total"), [n], (s, k, op),
                [f"Return the sum of the integers from {s} to {n} inclusive that are {neg}divisible by {k}.",
                 f"Add up every i with {s} <= i <= {n} that is {neg}a multiple of {k}."],
                ["total = 0", f"for i in range({s}, {n} + 1):", f"    if i % {k} {op} 0:", "        total += i",
                 "return total"],
                lambda g: [g.randint(-2, 60)], [[s - 1], [s]])


def product_if(r):
    xs, x, op, k = r.choice(LIST), r.choice(ELEM), cmp(r), r.randint(0, 20)
    return make("product_if", r, ("product_if", "filtered_product", "multiply_some"), [xs], (op, k),
                [f"Return the product of the elements of {xs} that are {CMP[op]} {k} (1 if there are none).",
                 f"Multiply together every {x} in {xs} with {x} {op} {k}; the empty product is 1."],
                ["result = 1", f"for {x} in {xs}:", f"    if {x} {op} {k}:", f"        result *= {x}",
                 "return result"],
                lambda g: [ints(g, k - 8, k + 8, 6)], [[[]], [[k]]])


def count_between(r):
    xs, x, lo = r.choice(LIST), r.choice(ELEM), r.randint(0, 10)
    hi = lo + r.randint(0, 10)
    return make("count_between", r, ("count_between", "count_in_range", "how_many_inside"), [xs], (lo, hi),
                [f"Return how many elements of {xs} are between {lo} and {hi} inclusive.",
                 f"Count the {x} in {xs} with {lo} <= {x} <= {hi}."],
                ["count = 0", f"for {x} in {xs}:", f"    if {lo} <= {x} <= {hi}:", "        count += 1",
                 "return count"],
                lambda g: [ints(g, lo - 5, hi + 5, 10)], [[[]], [[lo, hi]]])


def power_sum(r):
    xs, x, p, op, k = r.choice(LIST), r.choice(ELEM), r.randint(2, 3), cmp(r, "!= < >"), r.randint(0, 20)
    return make("power_sum", r, ("power_sum", "sum_of_powers", "powered_total"), [xs], (p, op, k),
                [f"Return the sum of {x} ** {p} over the elements {x} of {xs} that are {CMP[op]} {k}.",
                 f"Add up {x} ** {p} for every {x} in {xs} with {x} {op} {k}."],
                ["total = 0", f"for {x} in {xs}:", f"    if {x} {op} {k}:", f"        total += {x} ** {p}",
                 "return total"],
                lambda g: [ints(g, k - 8, k + 8, 7)], [[[]], [[k, k]]])


def rising_steps(r):
    xs, op, k, way = r.choice(LIST), cmp(r, "> >="), r.randint(0, 20), Choice(r.choice(("rises", "falls")))
    by = "more than" if op == ">" else "at least"
    diff = f"{xs}[i] - {xs}[i - 1]" if way == "rises" else f"{xs}[i - 1] - {xs}[i]"
    return make("rising_steps", r, ("count_jumps", "big_steps", f"count_{way}"), [xs], (op, k, way),
                [f"Return how many times an element of {xs} {way} from the previous one by {by} {k}.",
                 f"Count the positions i >= 1 where {diff} {op} {k}."],
                ["count = 0", f"for i in range(1, len({xs})):", f"    if {diff} {op} {k}:",
                 "        count += 1", "return count"],
                lambda g: [ints(g, 0, 30, 9)], [[[]], [[5]]])


# ---- early returns ----
def first_index(r):
    xs, op, t = r.choice(LIST), cmp(r, "== > <"), r.randint(0, 20)
    return make("first_index", r, ("first_index", "find_first", "index_of_first"), [xs], (op, t),
                [f"Return the index of the first element of {xs} {CMP[op]} {t}, or -1 if there is none.",
                 f"Find the smallest i with {xs}[i] {op} {t}; return -1 when no element qualifies."],
                [f"for i in range(len({xs})):", f"    if {xs}[i] {op} {t}:", "        return i", "return -1"],
                lambda g: [ints(g, t - 6, t + 6, 9)], [[[]], [[t]]])


def any_cmp(r):
    xs, x, op, k = r.choice(LIST), r.choice(ELEM), cmp(r, "< > =="), r.randint(0, 20)
    return make("any_cmp", r, ("any_below", "has_match", "exists_value"), [xs], (op, k),
                [f"Return True if some element of {xs} is {CMP[op]} {k}, else False.",
                 f"Return whether any {x} in {xs} satisfies {x} {op} {k}."],
                [f"for {x} in {xs}:", f"    if {x} {op} {k}:", "        return True", "return False"],
                lambda g: [ints(g, k - 8, k + 8, 6)], [[[]], [[k]]])


def all_remainder(r):
    xs, x, k = r.choice(LIST), r.choice(ELEM), r.randint(2, 12)
    m = r.randint(0, k - 1)
    return make("all_remainder", r, ("all_remainder", "all_congruent", "every_leaves"), [xs], (k, m),
                [f"Return True if every element of {xs} leaves remainder {m} when divided by {k}, else False.",
                 f"Return whether {x} % {k} == {m} holds for all {x} in {xs} (True for an empty list)."],
                [f"for {x} in {xs}:", f"    if {x} % {k} != {m}:", "        return False", "return True"],
                lambda g: [[k * g.randint(0, 6) + (m if g.random() < 0.85 else g.randint(0, k - 1))
                            for _ in range(g.randint(1, 5))]], [[[]], [[m]], [[m + 1]]])


def no_divisor(r):
    n, a = r.choice(INT), r.randint(2, 5)
    b = r.randint(a, 20)
    return make("no_divisor", r, ("no_divisor", "coprime_to_range", "has_no_small_factor"), [n], (a, b),
                [f"Return True if no integer from {a} to {b} divides {n}, else False.",
                 f"Return False as soon as some d with {a} <= d <= {b} divides {n}; otherwise True."],
                [f"for d in range({a}, {b} + 1):", f"    if {n} % d == 0:", "        return False", "return True"],
                lambda g: [g.randint(1, 400)], [[1], [a], [b]])


# ---- filtered comprehensions ----
def filter_div(r):
    xs, x, d, op, k = r.choice(LIST), r.choice(ELEM), r.randint(2, 5), cmp(r), r.randint(0, 20)
    return make("filter_div", r, ("select", "keep_matching", "filter_values"), [xs], (d, op, k),
                [f"Return the elements of {xs} that are divisible by {d} and {CMP[op]} {k}, in order.",
                 f"Keep each {x} in {xs} with {x} % {d} == 0 and {x} {op} {k}."],
                [f"return [{x} for {x} in {xs} if {x} % {d} == 0 and {x} {op} {k}]"],
                lambda g: [ints(g, k - 10, k + 10, 10)], [[[]]])


def map_affine(r):
    xs, x, a, op, b = r.choice(LIST), r.choice(ELEM), r.randint(2, 9), Choice(r.choice("+-")), r.randint(1, 20)
    parity = Choice(r.choice("01"))
    kind = "even" if parity == "0" else "odd"
    return make("map_affine", r, ("transform_parity", "map_values", "convert_some"), [xs], (a, op, b, parity),
                [f"Return {x} * {a} {op} {b} for every {kind} element {x} of {xs}, in order.",
                 f"For each {kind} {x} in {xs}, compute {x} * {a} {op} {b}; return the results as a list."],
                [f"return [{x} * {a} {op} {b} for {x} in {xs} if {x} % 2 == {parity}]"],
                lambda g: [ints(g, -10, 20, 8)], [[[]]])
