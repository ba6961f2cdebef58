"""The evaluation report's figures (paper Figures 2 and 3), drawn with matplotlib from numbers repair/report.py
computed: this module knows plotting, not rows."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure2(counts: dict[str, Counter], methods: tuple[str, ...], path: Path, title: str) -> None:
    """Localization method distribution (paper Figure 2): share of problems per method, one bar group per strategy."""
    plt = _pyplot()
    shown = list(counts)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(shown), 3.6))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        shares = [100.0 * counts[s][method] / max(1, sum(counts[s].values())) for s in shown]
        offset = (k - (len(methods) - 1) / 2) * width  # the group of bars centred on its tick
        ax.bar([i + offset for i in range(len(shown))], shares, width, label=method)
    ax.set_xticks(range(len(shown)), shown, rotation=15)
    ax.set_ylabel("% of localized problems")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure3(series: dict[str, list[int]], path: Path, title: str) -> None:
    """Token edit distance of repairs (paper Figure 3), one histogram per strategy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    top = max([1] + [max(d) for d in series.values() if d])
    bins = list(range(0, top + 2))
    for s, d in series.items():
        if d:
            zero = 100.0 * sum(x == 0 for x in d) / len(d)
            label = f"{s} (n={len(d)}, mean {statistics.fmean(d):.2f}, zero-edit {zero:.1f}%)"
            ax.hist(d, bins=bins, alpha=0.6, label=label)
    ax.set_xlabel("token edit distance (before vs after repair)")
    ax.set_ylabel("problems")
    ax.set_title(title)
    if any(series.values()):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
