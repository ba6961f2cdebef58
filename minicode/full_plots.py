"""The --full report's figures (PNG, matplotlib's Agg backend): drawn from the tables' data, never from a model."""

from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> bool:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def treediff_figure(intervals: dict[str, dict], path: Path) -> bool:
    """pass@1 per masker: each training seed a dot, the mean with its 95% interval a bar."""
    if not intervals:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for x, e in enumerate(intervals.values()):
        ax.errorbar(
            [x],
            [e["mean"]],
            yerr=[[e["mean"] - e["lo"]], [e["hi"] - e["mean"]]],
            fmt="s",
            capsize=6,
            color="black",
            label="mean, 95% CI" if x == 0 else None,
        )
        ax.scatter(
            [x + 0.12] * len(e["per_seed"]),
            e["per_seed"],
            color="tab:blue",
            s=18,
            label="one training seed" if x == 0 else None,
        )
    ax.set_xticks(range(len(intervals)), list(intervals))
    ax.set(
        ylabel="no-repair pass@1 % (new families)",
        title="TreeDiff Table 1 in miniature: masker, from one base",
    )
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def arness_figure(reports: dict[str, dict], path: Path) -> bool:
    """Local and global AR-ness@k against k, one line per (model, temperature): DiffuCoder's Figure 3 / 5 layout."""
    if not reports:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"sft": "-", "rl": "--"}
    for tag, r in reports.items():
        for e in r["results"]:
            label = f"{tag}, T={e['temperature']:g}"
            axes[0].plot(r["local_k"], e["local"], styles.get(tag, ":"), marker="o", ms=3, label=label)
            axes[1].plot(r["global_k"], e["global"], styles.get(tag, ":"), marker="o", ms=3, label=label)
    axes[0].set(xlabel="k", ylabel="local AR-ness@k", title="local: next-token pattern", ylim=(0, 1.02))
    axes[1].set(xlabel="k", ylabel="global AR-ness@k", title="global: earliest masked first", ylim=(0, 1.02))
    for ax in axes:
        ax.legend(fontsize=7)
    return _save(plt, fig, path)


def fast_curve_figure(points: dict[str, list[dict]], path: Path) -> bool:
    """pass@1 against completion tokens/s: one line per cache mode over the thresholds, plain as one point."""
    if not points:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for mode, pts in points.items():
        xs, ys = [p["tokens_per_s"] for p in pts], [p["pass@1"] for p in pts]
        ax.plot(xs, ys, "*" if mode == "plain" else "-o", ms=10 if mode == "plain" else 4, label=mode)
        for p in pts:
            if p["threshold"] is not None:
                ax.annotate(
                    f"{p['threshold']:g}",
                    (p["tokens_per_s"], p["pass@1"]),
                    fontsize=6,
                    textcoords="offset points",
                    xytext=(3, 3),
                )
    ax.set_xscale("log")
    ax.set(
        xlabel="completion tokens / s (log; tests included)",
        ylabel="no-repair pass@1 %",
        title="Fast-dLLM on the SFT model: accuracy at speed (labels: threshold)",
    )
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def reward_figure(curves: dict[str, list[dict]], path: Path) -> bool:
    """Training reward (noisy: new prompts every step) and probe reward (fixed held-out prompts) per RL run."""
    if not any(curves.values()):
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for tag, rows in curves.items():
        style = "-" if tag.endswith("s0") else "--"
        for ax, key in zip(axes, ("reward", "probe/reward")):
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points), style, label=tag)
    axes[0].set(xlabel="RL step", ylabel="mean reward (code x2 + format x0.5)", title="training reward")
    axes[1].set(xlabel="RL step", ylabel="probe reward", title="probe: held-out rl prompts, greedy")
    for ax in axes:
        ax.legend(fontsize=7)
    return _save(plt, fig, path)
