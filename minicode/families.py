"""The --full TreeDiff split of minicode's families: the base is pretrained on one half, the arms continue on the other.

    python -m minicode.families base|new [--yaml]   # comma list (data.minicode --families) or [a,b] (SFT data.families)

Fixed by the family names alone (every other name, alphabetically), never by results: the families' templates are
interleaved across minicode's three family modules, so both halves hold arithmetic, list and text families.
"""

from __future__ import annotations

import argparse

from data.minicode import FAMILIES

PARTS = ("base", "new")


def family_split() -> dict[str, list[str]]:
    """{"base": names at even positions of the sorted names, "new": the odd ones}; disjoint, together all families."""
    names = sorted(FAMILIES)
    return {"base": names[0::2], "new": names[1::2]}


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(prog="python -m minicode.families", description=__doc__.splitlines()[0])
    p.add_argument("part", choices=PARTS)
    p.add_argument("--yaml", action="store_true", help="print [a,b,...] (an SFT override) instead of a,b,...")
    args = p.parse_args(argv)
    names = ",".join(family_split()[args.part])
    text = f"[{names}]" if args.yaml else names
    print(text)
    return text


if __name__ == "__main__":
    main()
