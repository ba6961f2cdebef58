"""Data-quality statistics of repair-pair files, side by side, as a table and a PNG figure.

    python -m repair.pair_stats PAIRS.jsonl [MORE.jsonl ...] [--figure stats.png] [--json stats.json]

Diversity of the fixed (correct) programs (CodeFusion Figure 7(b)) and of the broken programs (mean pairwise token
4-gram Jaccard similarity, lower = more diverse), complexity (mean token edit distance), localization (per pair mean
gap between edits in tokens, 0 for a single edit, averaged over pairs), share of broken programs that parse, and the
histogram of parser error messages (see repair/pairs.py for the definitions).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from data.usage import run_cli
from repair.pairs import PAIR_FIELDS, pair_statistics, read_pairs

# (key, label, format): the labels say which programs a diversity number is about
COLUMNS = [("pairs", "pairs", "{:d}"),
           ("diversity_fixed_ngram_jaccard", "4-gram sim. fixed (7b)", "{:.3f}"),
           ("diversity_broken_ngram_jaccard", "4-gram sim. broken", "{:.3f}"),
           ("complexity_edit_distance", "edit distance", "{:.2f}"),
           ("localization_edit_gap", "gap between edits", "{:.2f}"),
           ("broken_parses", "broken parses", "{:.2f}")]


def table(stats: dict[str, dict]) -> str:
    head = f"{'file':<28}" + "".join(f"{label:>24}" for _, label, _ in COLUMNS)
    rows = [f"{name[-28:]:<28}" + "".join(f"{fmt.format(s[c]):>24}" for c, _, fmt in COLUMNS)
            for name, s in stats.items()]
    errors = [f"  {name}: " + ", ".join(f"{k} x{v}" for k, v in list(s["errors"].items())[:6]) for name, s in stats.items()]
    note = "4-gram sim. = mean pairwise token 4-gram Jaccard similarity (lower = more diverse)"
    return "\n".join([head, *rows, note, "parser errors of the broken programs:", *errors])


def figure(stats: dict[str, dict], edit_distances: dict[str, list[int]], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, dists in edit_distances.items():
        left.hist(dists, bins=range(0, max(dists + [1]) + 2), alpha=0.6, label=Path(name).stem)
    left.set(title="token edit distance (broken -> fixed)", xlabel="tokens", ylabel="pairs")
    left.legend()
    for k, (name, s) in enumerate(stats.items()):
        top = list(s["errors"].items())[:8]
        right.barh([f"{Path(name).stem}: {e[:30]}" for e, _ in top], [v for _, v in top], color=f"C{k}")
    right.set(title="parser messages of broken programs", xlabel="pairs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    pairs = {f: read_pairs(f, required=PAIR_FIELDS) for f in args.files}
    stats = {f: pair_statistics(p) for f, p in pairs.items()}
    print(table(stats))
    if args.figure:
        figure(stats, {f: [r["edit_distance"] for r in p] for f, p in pairs.items()}, args.figure)
        print(f"figure: {args.figure}")
    if args.json:
        Path(args.json).write_text(json.dumps(stats, indent=2))
    return stats


if __name__ == "__main__":
    run_cli(main)
