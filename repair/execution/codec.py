"""Type-exact, code-free encoding of test outputs, and a canonical digest for outputs too big to ship.

The sandboxed child encodes what the candidate returned; the trusted parent decodes and compares. Outputs never
travel as pickle (unpickling runs code) and the comparison never runs in the candidate's interpreter, so an object
with `__eq__ = lambda *a: True` or a patched comparison function cannot fake a pass: any value outside the plain
types below becomes an opaque marker that equals nothing.

Stdlib only: this module is loaded by the sandbox child, which must import nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import math

# Tags of the tagged-JSON form. JSON scalars (int, float, str, bool, null) stand for themselves.
_LIST, _TUPLE, _SET, _FROZENSET, _DICT = "l", "t", "s", "f", "d"
_BIGINT, _COMPLEX, _BYTES, _OPAQUE = "I", "c", "b", "o"
_SMALL_INT = 10**4000  # int <-> str conversion is capped at 4300 digits; bigger ones travel as hex


class TooBig(Exception):
    """The encoding exceeded its byte budget (the caller falls back to a digest)."""


class Opaque:
    """Stand-in for a value of a non-plain type: equal to nothing, hashable, printable."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}: {self.text[:80]}>"


def _scalar(x, t):
    if t is int:
        return x if -_SMALL_INT < x < _SMALL_INT else [_BIGINT, hex(x)]
    if t is complex:
        return [_COMPLEX, x.real, x.imag]
    if t is bytes:
        return [_BYTES, x.hex()]
    return x  # bool, float, str, None


_SCALARS = (bool, int, float, str, type(None), complex, bytes)
_SEQS = {list: _LIST, tuple: _TUPLE, set: _SET, frozenset: _FROZENSET}
_BASES = (bool, int, float, str, complex, bytes, type(None), dict, list, tuple, set, frozenset)


def to_tree(x, budget: list[int] | None = None, _type=type):
    """Plain value -> JSON-able tree. `budget` ([remaining items]) bounds the work on huge outputs."""
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooBig
    t = _type(x)
    if t in _SCALARS:
        return _scalar(x, t)
    for base in _BASES:  # subclasses (Counter, OrderedDict, namedtuple, numpy scalars) compare like their base
        if isinstance(x, base):
            break
    else:
        return [_OPAQUE, t.__name__, _safe_repr(x)]
    if base in _SCALARS:
        return _scalar(base(x) if base is not t else x, base)
    if base is dict:
        out = [_DICT]
        for k, v in dict.items(x):
            out.append(to_tree(k, budget))
            out.append(to_tree(v, budget))
        return out
    return [_SEQS[base], *(to_tree(v, budget) for v in base.__iter__(x))]


def _safe_repr(x) -> str:
    try:
        return repr(x)[:200]
    except BaseException:  # noqa: B036  (a hostile __repr__ may raise anything)
        return "<unrepresentable>"


def from_tree(tree):
    """Inverse of to_tree (runs in the trusted parent; builds plain values only)."""
    if not isinstance(tree, list):
        return tree
    tag, rest = tree[0], tree[1:]
    decode = _DECODERS[tag]
    return decode(rest)


def _items(rest):
    return [from_tree(v) for v in rest]


def _dict(rest):
    vals = _items(rest)
    return {_hashable(vals[i]): vals[i + 1] for i in range(0, len(vals), 2)}


def _hashable(v):
    return v if not isinstance(v, (list, dict, set)) else Opaque(type(v).__name__, repr(v))


_DECODERS = {
    _LIST: _items,
    _TUPLE: lambda r: tuple(_items(r)),
    _SET: lambda r: set(map(_hashable, _items(r))),
    _FROZENSET: lambda r: frozenset(map(_hashable, _items(r))),
    _DICT: _dict,
    _BIGINT: lambda r: int(r[0], 16),
    _COMPLEX: lambda r: complex(r[0], r[1]),
    _BYTES: lambda r: bytes.fromhex(r[0]),
    _OPAQUE: lambda r: Opaque(r[0], r[1]),
}


_CONTAINER_BASES = (dict, list, tuple, set, frozenset)
_LEAF_TYPES = frozenset({bool, int, float, str, bytes, complex, type(None)})


def count_nodes(x, limit: int) -> int:
    """The nodes to_tree and digest visit (a value, and for containers their items, dict keys and values each
    count), up to limit + 1: a big output is sized by its containers' lengths instead of hashed node by node."""
    total, stack = 1, [x]
    while stack:
        v = stack.pop()
        base = next((b for b in _CONTAINER_BASES if isinstance(v, b)), None)
        if base is None:
            continue
        # The base type's own iteration, as to_tree: a subclass's __iter__ is not called.
        items = [*dict.keys(v), *dict.values(v)] if base is dict else list(base.__iter__(v))
        total += len(items)
        if total > limit:
            return limit + 1
        if not set(map(type, items)) <= _LEAF_TYPES:  # type() per item runs in C; most outputs stop here
            stack.extend(item for item in items if isinstance(item, _CONTAINER_BASES))
    return total


def dumps(x, max_items: int | None = None) -> str:
    """Encode to compact JSON text; raises TooBig beyond `max_items` nodes."""
    budget = None if max_items is None else [max_items]
    return json.dumps(to_tree(x, budget), separators=(",", ":"))


def loads(text: str):
    return from_tree(json.loads(text))


# ---- canonical digest: equal under Python `==` (for plain values) => equal digest ----
def digest(x, max_items: int | None = None) -> str:
    """Order-insensitive for sets/dicts, numeric-type-insensitive like `==`; TooBig beyond `max_items` nodes."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, x, [max_items if max_items is not None else float("inf")])
    return h.hexdigest()


def _number_token(x) -> bytes:
    if isinstance(x, complex):
        if x.imag != 0:
            return b"c" + repr(x).encode()
        x = x.real
    if isinstance(x, float):
        if math.isnan(x):
            return b"nan"
        if math.isinf(x) or not x.is_integer():
            return b"r" + repr(x).encode()
        x = int(x)
    return b"i" + hex(x).encode()  # bool and integral floats collapse onto int, as 1 == 1.0 == True


def _feed(h, x, budget: list) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise TooBig
    if isinstance(x, str):
        data = x.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(data) + data)
    elif isinstance(x, (bool, int, float, complex)):
        h.update(_number_token(x) + b";")
    elif isinstance(x, (list, tuple)):
        h.update(b"l[" if isinstance(x, list) else b"t[")
        for v in x:
            _feed(h, v, budget)
        h.update(b"]")
    elif isinstance(x, bytes):
        h.update(b"b%d:" % len(x) + x)
    elif x is None:
        h.update(b"n;")
    elif isinstance(x, (set, frozenset, dict)):
        _feed_unordered(h, x, budget)
    else:  # opaque: never equal to anything
        h.update(b"o" + str(id(x)).encode() + _safe_repr(x).encode())


def _feed_unordered(h, x, budget: list) -> None:
    def sub(v) -> str:
        inner = hashlib.blake2b(digest_size=16)
        _feed(inner, v, budget)
        return inner.hexdigest()

    if isinstance(x, dict):
        parts = sorted(sub(k) + sub(v) for k, v in x.items())
        h.update(b"d{")
    else:
        parts = sorted(sub(v) for v in x)
        h.update(b"S{")  # set == frozenset in Python, so they share a tag
    h.update(",".join(parts).encode() + b"}")
