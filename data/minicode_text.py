"""minicode families, part 3: string building and slicing, counting with a dict, small state machines.

Docstrings never put a quoted constant right before punctuation ("'-'." would tokenize differently from the code's
'-'): a quoted constant is followed by a space and a word, or by the end of a clause without a period.
"""

from __future__ import annotations

from data.minicode_families import CMP, ELEM, LIST, SENT, STR, Choice, cmp, ints, make

SEPS = ("-", "_", ", ", "|", "+", "/", ":", ";", "*", "~", " ", "#", ".", "=", "&", " | ", " - ", ">")
MARKS = ("*", "#", "|", "!", "$", "%", "/", "^", "~", "@", "&", "=", "+", "?", ":", ";")


def text(g, alphabet: str = "abcde", lo: int = 0, hi: int = 8) -> str:
    return "".join(g.choice(alphabet) for _ in range(g.randint(lo, hi)))


def sentence(g, alphabet: str = "abcdeAB", max_words: int = 5, longest: int = 6) -> str:
    return " ".join(text(g, alphabet, 1, longest) for _ in range(g.randint(0, max_words)))


# ---- string building and slicing ----
def repeat_join(r):
    s, k, sep = r.choice(STR), r.randint(1, 6), r.choice(SEPS)
    return make("repeat_join", r, ("repeat_join", "copies", "repeat_with"), [s], (k, sep),
                [f"Return {k} copies of {s} joined by {sep!r} between them.",
                 f"Repeat {s} {k} times, putting {sep!r} between the copies, and return the string."],
                ["parts = []", f"for _ in range({k}):", f"    parts.append({s})", f"return {sep!r}.join(parts)"],
                lambda g: [text(g, "abcxyz", 0, 4)], [[""]])


def reverse_words(r):
    s, sep, case = r.choice(SENT), r.choice(SEPS), Choice(r.choice(("", "upper", "lower", "title")))
    how = f" in {case} case" if case else ""
    last = f"return {sep!r}.join(words)" + (f".{case}()" if case else "")
    return make("reverse_words", r, ("reverse_words", "flip_words", "words_backwards"), [s], (sep, case),
                [f"Return the words of {s} in reverse order{how}, joined by {sep!r} between them.",
                 f"Split {s} into words, reverse their order and join them with {sep!r} as the glue{how}."],
                [f"words = {s}.split()", "words.reverse()", last],
                lambda g: [sentence(g)], [[""], ["one"]])


def ensure_affix(r):
    s, side = r.choice(STR), Choice(r.choice(("start", "end")))
    p = "".join(r.choice("abcxyz") for _ in range(r.randint(1, 3)))
    test, joined = (f"{s}.startswith({p!r})", f"{p!r} + {s}") if side == "start" else \
        (f"{s}.endswith({p!r})", f"{s} + {p!r}")
    where = "in front of" if side == "start" else "at the end of"
    return make("ensure_affix", r, ("ensure_affix", "add_marker", "with_tag"), [s], (side, p),
                [f"If {s} does not {side} with {p!r} then put {p!r} {where} it; return the result.",
                 f"Return {s} unchanged when it already {side}s with {p!r} and otherwise add {p!r} {where} it."],
                [f"if {test}:", f"    return {s}", f"return {joined}"],
                lambda g: [g.choice((p, "")) + text(g, "abcxyz", 0, 4) + g.choice((p, ""))], [[""], [p]])


def replace_char(r):
    s, (a, b) = r.choice(STR), r.sample("abcdefghij", 2)
    return make("replace_char", r, ("replace_char", "swap_letter", "substitute"), [s], (a, b),
                [f"Return a copy of {s} in which every {a!r} becomes {b!r} and other characters stay the same.",
                 f"Replace each {a!r} in {s} by {b!r} while copying the other characters unchanged."],
                ["out = ''", f"for ch in {s}:", f"    if ch == {a!r}:", f"        out += {b!r}", "    else:",
                 "        out += ch", "return out"],
                lambda g: [text(g, "abcdefghij" + a * 4, 0, 9)], [[""]])


def case_k(r):
    s, k = r.choice(STR), r.randint(1, 20)
    side, case = Choice(r.choice(("first", "last"))), Choice(r.choice(("upper", "lower")))
    head, tail, order = (f"{s}[:{k}]", f"{s}[{k}:]", "part + rest") if side == "first" else \
        (f"{s}[-{k}:]", f"{s}[:-{k}]", "rest + part")
    return make("case_k", r, ("case_k", "shout_part", "recase_end"), [s], (side, case, k),
                [f"Return {s} with its {side} {k} characters in {case} case and the rest unchanged.",
                 f"Convert the {side} {k} characters of {s} to {case} case; keep the other characters as they are."],
                [f"part = {head}.{case}()", f"rest = {tail}", f"return {order}"],
                lambda g: [text(g, "abcDEF", 0, 24)], [[""]])


def every_kth(r):
    s, i, k = r.choice(STR), r.randint(0, 9), r.randint(2, 10)
    return make("every_kth", r, ("every_kth", "sample_chars", "stride_chars"), [s], (k, i),
                [f"Return every {k}-th character of {s}, starting at index {i}.",
                 f"Collect the characters of {s} at indices {i}, {i} + {k}, {i} + 2 * {k} and so on into a string."],
                ["out = ''", f"for i in range({i}, len({s}), {k}):", f"    out += {s}[i]", "return out"],
                lambda g: [text(g, "abcdefghij", 0, 24)], [[""]])


def truncate(r):
    s, k, mark = r.choice(STR), r.randint(2, 12), r.choice(("...", "~", "!", ">", "..", "*", "+"))
    return make("truncate", r, ("truncate", "shorten", "clip_text"), [s], (k, mark),
                [f"If {s} is longer than {k} characters, return its first {k} characters followed by {mark!r} as a "
                 f"marker; otherwise return {s} unchanged.",
                 f"Cut {s} down to {k} characters and add {mark!r} at the end, but only when it is too long."],
                [f"if len({s}) <= {k}:", f"    return {s}", f"return {s}[:{k}] + {mark!r}"],
                lambda g: [text(g, "abcde", 0, 16)], [[""], ["a" * k]])


def pad(r):
    s, c, k, side = r.choice(STR), r.choice(("0", "*", ".", "-", "#", "_")), r.randint(1, 12), \
        Choice(r.choice(("left", "right")))
    grow = f"{c!r} + {s}" if side == "left" else f"{s} + {c!r}"
    return make("pad", r, ("pad", "fill_to", "widen"), [s], (side, c, k),
                [f"Pad {s} on the {side} with {c!r} characters until it has at least {k} characters, and return it.",
                 f"Add {c!r} on the {side} of {s} repeatedly while it is shorter than {k} characters."],
                [f"while len({s}) < {k}:", f"    {s} = {grow}", f"return {s}"],
                lambda g: [text(g, "abc", 0, 14)], [[""]])


def count_in_set(r):
    s, chars = r.choice(STR), "".join(sorted(r.sample("abcdefghi", 3)))
    return make("count_in_set", r, ("count_in_set", "count_letters", "tally_chars"), [s], (chars,),
                [f"Return how many characters of {s} are among the letters {chars!r} here.",
                 f"Count the characters ch of {s} with ch in {chars!r} and return that number."],
                ["count = 0", f"for ch in {s}:", f"    if ch in {chars!r}:", "        count += 1", "return count"],
                lambda g: [text(g, "abcdefghi", 0, 12)], [[""]])


def long_words(r):
    s, op, k, case = r.choice(SENT), cmp(r, "< > <= >= =="), r.randint(1, 9), Choice(r.choice(("", "upper")))
    w, how = ("w.upper()", " in upper case") if case else ("w", "")
    return make("long_words", r, ("long_words", "words_by_length", "pick_words"), [s], (op, k, case),
                [f"Return the words of {s} whose length is {CMP[op]} {k}, in order{how}.",
                 f"Return [{w} for each word w of {s} if len(w) {op} {k}]."],
                [f"return [{w} for w in {s}.split() if len(w) {op} {k}]"],
                lambda g: [sentence(g, "abc", 6, k + 3)], [[""]])


def count_substring(r):
    s, p = r.choice(STR), "".join(r.choice("abcd") for _ in range(r.randint(2, 3)))
    return make("count_substring", r, ("count_substring", "occurrences", "count_pattern"), [s], (p,),
                [f"Return how many times {p!r} occurs in {s}, counting overlapping occurrences too.",
                 f"Count the positions i of {s} where the substring {p!r} starts (overlaps allowed)."],
                ["count = 0", f"for i in range(len({s})):", f"    if {s}[i:i + {len(p)}] == {p!r}:",
                 "        count += 1", "return count"],
                lambda g: [text(g, p + "ab", 0, 14)], [[""], [p]])


# ---- counting with a dict ----
def char_counts(r):
    s, c, op, k = r.choice(STR), r.choice("abcdef "), cmp(r, ">= <="), r.randint(1, 5)
    return make("char_counts", r, ("char_counts", "letter_histogram", "count_chars"), [s], (c, op, k),
                [f"Return a dict mapping each character of {s} other than {c!r} to its count, keeping only counts "
                 f"{CMP[op]} {k}.",
                 f"Count the characters of {s} (skipping {c!r} entirely) and return the counts that are {op} {k}."],
                ["counts = {}", f"for ch in {s}:", f"    if ch != {c!r}:", "        counts[ch] = counts.get(ch, 0) + 1",
                 f"return {{ch: cnt for ch, cnt in counts.items() if cnt {op} {k}}}"],
                lambda g: [text(g, "abcdef ", 0, 20)], [[""]])


def most_frequent(r):
    xs, x, mode, d = r.choice(LIST), r.choice(ELEM), Choice(r.choice(("most", "least"))), r.randint(0, 20)
    tie = Choice(r.choice(("first", "last")))
    op = (">" if mode == "most" else "<") + ("=" if tie == "last" else "")
    return make("most_frequent", r, ("most_frequent", "mode_value", "frequency_pick"), [xs], (mode, tie, d),
                [f"Return the {mode} frequent value in {xs} (on ties, the one whose first occurrence comes {tie}), "
                 f"or {d} if {xs} is empty.",
                 f"Count how often each value occurs in {xs}; return the {mode} common one (ties: the value that "
                 f"first appears {tie}), and {d} for an empty list."],
                [f"if not {xs}:", f"    return {d}", "counts = {}", f"for {x} in {xs}:",
                 f"    counts[{x}] = counts.get({x}, 0) + 1", f"best = {xs}[0]", f"for {x} in counts:",
                 f"    if counts[{x}] {op} counts[best]:", f"        best = {x}", "return best"],
                lambda g: [ints(g, 0, 5, 10)], [[[]], [[d]]])


def word_lengths(r):
    s, op, k, case = r.choice(SENT), cmp(r, "< > <= >= =="), r.randint(1, 8), Choice(r.choice(("", "upper")))
    key, how = ("w.upper()", " (in upper case)") if case else ("w", "")
    return make("word_lengths", r, ("word_lengths", "length_map", "measure_words"), [s], (op, k, case),
                [f"Return a dict mapping each word of {s}{how} to its length, keeping only words of length "
                 f"{CMP[op]} {k}.",
                 f"Map every word w of {s} with len(w) {op} {k}, as the key {key}, to len(w) and return the dict."],
                ["result = {}", f"for w in {s}.split():", f"    if len(w) {op} {k}:", f"        result[{key}] = len(w)",
                 "return result"],
                lambda g: [sentence(g, "abcd", 6, k + 3)], [[""]])


def group_by_letter(r):
    s, end, op, k = r.choice(SENT), Choice(r.choice(("first", "last"))), cmp(r, "< > <= >= == !="), \
        r.randint(1, 8)
    key = "w[0]" if end == "first" else "w[-1]"
    return make("group_by_letter", r, ("group_by_letter", "bucket_words", "index_words"), [s], (end, op, k),
                [f"Group the words of {s} whose length is {CMP[op]} {k} by their {end} letter: return a dict from "
                 f"that letter to the list of words, in order.",
                 f"Return a dict from the {end} letter of each word w of {s} with len(w) {op} {k} to the list of "
                 f"those words, in order."],
                ["groups = {}", f"for w in {s}.split():", f"    if len(w) {op} {k}:",
                 f"        groups.setdefault({key}, []).append(w)", "return groups"],
                lambda g: [sentence(g, "abc", 6, k + 3)], [[""]])


# ---- small state machines ----
def toggle(r):
    s, c, out, start = r.choice(STR), r.choice(MARKS), Choice(r.choice(("count", "collect"))), \
        Choice(r.choice(("off", "on")))
    if out == "count":
        init, act, ret, what = "count = 0", "count += 1", "count", "how many other characters of"
    else:
        init, act, ret, what = "out = ''", "out += ch", "out", "the string of the other characters of"
    return make("toggle", r, ("toggle", "between_marks", "inside_marks"), [s], (c, out, start),
                [f"The character {c!r} switches a flag that starts {start}; return {what} {s} read while it is on.",
                 f"Walk through {s}: each {c!r} toggles an on/off state (initially {start}); return {what} {s} that are "
                 f"seen in the on state."],
                [f"on = {start == 'on'}", init, f"for ch in {s}:", f"    if ch == {c!r}:", "        on = not on", "    elif on:",
                 f"        {act}", f"return {ret}"],
                lambda g: [text(g, "ab" + c * 2, 0, 12)], [[""], [c]])


def longest_run(r):
    xs, x, op, t = r.choice(LIST), r.choice(ELEM), cmp(r, "== > <"), r.randint(0, 20)
    return make("longest_run", r, ("longest_run", "max_streak", "longest_stretch"), [xs], (op, t),
                [f"Return the length of the longest run of consecutive elements of {xs} that are {CMP[op]} {t}.",
                 f"Return the longest streak of adjacent {x} in {xs} with {x} {op} {t} (0 if there is none)."],
                ["best = 0", "run = 0", f"for {x} in {xs}:", f"    if {x} {op} {t}:", "        run += 1",
                 "        best = max(best, run)", "    else:", "        run = 0", "return best"],
                lambda g: [ints(g, t - 2, t + 2, 12)], [[[]]])


def rle(r):
    s, sep, order = r.choice(STR), r.choice(SEPS + ("",)), Choice(r.choice(("char", "count")))
    ones = Choice(r.choice(("kept", "omitted")))
    piece = f"{s}[i] + str(j - i)" if order == "char" else f"str(j - i) + {s}[i]"
    if ones == "omitted":
        piece = f"{s}[i] if j - i == 1 else {piece}"
    first = "the character followed by its length" if order == "char" else "its length followed by the character"
    return make("rle", r, ("rle", "run_length", "compress_runs"), [s], (sep, order, ones),
                [f"Run-length encode {s}: each run of equal characters becomes {first} (a length of 1 is {ones}), "
                 f"and the pieces are joined by {sep!r} between them.",
                 f"Return the runs of {s} as {first}, joined with {sep!r} as the separator; lengths of 1 are {ones}."],
                ["parts = []", "i = 0", f"while i < len({s}):", "    j = i", f"    while j < len({s}) and {s}[j] == {s}[i]:",
                 "        j += 1", f"    parts.append({piece})", "    i = j", f"return {sep!r}.join(parts)"],
                lambda g: [text(g, "aab", 0, 12)], [[""]])


BRACKETS = (("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"))


def bracket_depth(r):
    s, (o, c), bad = r.choice(STR), r.choice(BRACKETS), -r.randint(1, 20)
    return make("bracket_depth", r, ("bracket_depth", "nesting_depth", "max_depth"), [s], (o, c, bad),
                [f"Return the maximum nesting depth of {o!r} and {c!r} brackets in {s}, or {bad} when they do not "
                 f"balance.",
                 f"Track the depth over {s}, where {o!r} opens and {c!r} closes; return its maximum, or {bad} if a "
                 f"closing bracket has no match or some stay open."],
                ["depth = 0", "best = 0", f"for ch in {s}:", f"    if ch == {o!r}:", "        depth += 1",
                 "        best = max(best, depth)", f"    elif ch == {c!r}:", "        depth -= 1",
                 "        if depth < 0:", f"            return {bad}", "if depth != 0:", f"    return {bad}",
                 "return best"],
                lambda g: [text(g, o * 3 + c * 3 + "x", 0, 10) if g.random() < 0.5 else
                           "".join(o * g.randint(0, 2) + "x" + c * g.randint(0, 2) for _ in range(g.randint(1, 3)))],
                [[""], [o + c], [c + o]])


MOVES = (("U", "D"), ("+", "-"), ("R", "L"), ("N", "S"))


def walker(r):
    s, (u, d), start, up, down = r.choice(STR), r.choice(MOVES), r.randint(0, 10), r.randint(1, 5), r.randint(1, 5)
    return make("walker", r, ("walker", "final_position", "follow_moves"), [s], (u, d, start, up, down),
                [f"Start at {start}; each {u!r} in {s} adds {up}, each {d!r} subtracts {down}, and other characters "
                 f"do nothing. Return the final value.",
                 f"Return the position after following {s} from {start}, where {u!r} moves up by {up} and {d!r} "
                 f"moves down by {down}."],
                [f"pos = {start}", f"for ch in {s}:", f"    if ch == {u!r}:", f"        pos += {up}",
                 f"    elif ch == {d!r}:", f"        pos -= {down}", "return pos"],
                lambda g: [text(g, u + d + "x", 0, 12)], [[""]])
