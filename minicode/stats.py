"""The statistics of the --full report: pass@1 over (training seed, problem) with its 95% interval, the paired
comparison of two arms, and the smallest difference a comparison of this size can detect.

A run of an arm is a [S, N] 0/1 matrix: S seeds (training seed and data order for TreeDiff's arms, repair sampling for
the trace-guided strategies), N problems, the same problems in every row. Intervals are percentile bootstraps that
resample seeds and problems (crossed: the resampled problems are taken in every resampled seed), so they hold both the
spread between training runs and the sampling of problems; with S = 3 the seed level is crude, which is why the report
prints every seed's figure too. The paired test is McNemar's exact test on the discordant (seed, problem) pairs pooled
over seeds (repair.report), which holds the models fixed; the paired bootstrap of the difference does not.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

RESAMPLES = 2000
Z_ALPHA, Z_POWER = 1.959964, 0.841621  # two-sided alpha = 0.05, power 0.8


def pass_matrix(runs: list[list[dict]]) -> tuple[np.ndarray, list[str]]:
    """[S, N] passed (0/1) of S runs (rows with task_id, passed) over the task ids all of them hold, in sorted order."""
    common = sorted(set.intersection(*(set(r["task_id"] for r in rows) for rows in runs))) if runs else []
    table = [{r["task_id"]: bool(r["passed"]) for r in rows} for rows in runs]
    return np.array([[t[k] for k in common] for t in table], dtype=np.float64).reshape(
        len(runs), len(common)
    ), common


def pass_matrices(*arms: list[list[dict]]) -> list[np.ndarray]:
    """[S_k, N] passed of each arm (a list of runs), all on the task ids every run of every arm holds."""
    runs = [rows for arm in arms for rows in arm]
    common = set.intersection(*(set(r["task_id"] for r in rows) for rows in runs)) if runs else set()
    return [pass_matrix([[r for r in rows if r["task_id"] in common] for rows in arm])[0] for arm in arms]


def _indices(s: int, n: int, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, s, size=(resamples, s)), rng.integers(0, n, size=(resamples, n))


def _resampled_means(m: np.ndarray, seeds: np.ndarray, problems: np.ndarray) -> np.ndarray:
    """Mean of m over each resample's seeds x problems: [resamples]."""
    return np.array([m[np.ix_(si, pi)].mean() for si, pi in zip(seeds, problems)])


def interval(m: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """pass@1 % of [S, N] with its 95% bootstrap interval over seeds and problems, and each seed's pass@1 %."""
    s, n = m.shape
    si, pi = _indices(s, n, resamples, seed)
    boot = 100 * _resampled_means(m, si, pi)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "mean": 100 * float(m.mean()),
        "lo": float(lo),
        "hi": float(hi),
        "seeds": s,
        "problems": n,
        "per_seed": [100 * float(x) for x in m.mean(1)],
    }


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """b - a in points on the same [S, N] grid, with a 95% bootstrap interval (one resample of seeds and problems
    shared by both arms, so the pairing is kept), McNemar's exact test pooled over seeds (b_: b passes, a fails) and
    the smallest difference this many pairs detect at their measured discordance."""
    from repair.report import mcnemar

    if a.shape != b.shape:
        raise ValueError(f"paired arms need the same seeds x problems, got {a.shape} and {b.shape}")
    s, n = a.shape
    si, pi = _indices(s, n, resamples, seed)
    boot = 100 * _resampled_means(b - a, si, pi)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    b_only, a_only = int(((b == 1) & (a == 0)).sum()), int(((a == 1) & (b == 0)).sum())
    test = mcnemar(b_only, a_only)
    return {
        "diff": 100 * float((b - a).mean()),
        "lo": float(lo),
        "hi": float(hi),
        "b": b_only,
        "c": a_only,
        "p": test.p_exact,
        "pairs": s * n,
        "mdd": min_detectable_difference(s * n, (b_only + a_only) / (s * n)),
    }


def min_detectable_difference(pairs: int, discordant: float) -> float:
    """Points of pass@1 that a two-sided paired test at alpha 0.05 detects with 80% power on `pairs` (seed, problem)
    pairs of which a fraction `discordant` differ (normal approximation of McNemar's test: Connor 1987, solved for
    the difference by fixed-point iteration). Two arms that agree on no problem beyond chance at pass@1 p have
    discordant = 2 p (1 - p): the unpaired bound."""
    if pairs < 1 or discordant <= 0:
        return float("nan")
    d = discordant
    delta = (Z_ALPHA + Z_POWER) * math.sqrt(d / pairs)
    for _ in range(50):  # n delta^2 = (z_a sqrt(d) + z_b sqrt(d - delta^2))^2
        delta = (Z_ALPHA * math.sqrt(d) + Z_POWER * math.sqrt(max(d - delta**2, 0.0))) / math.sqrt(pairs)
    return 100 * delta


def ci_cell(e: dict | None) -> str:
    """'45.2 [42.1, 48.0] (41.0 / 46.5 / 48.0; 3 x 400)': mean, 95% interval, each seed, seeds x problems."""
    if not e:
        return "not run"
    seeds = " / ".join(f"{x:.1f}" for x in e["per_seed"])
    return f"{e['mean']:.1f} [{e['lo']:.1f}, {e['hi']:.1f}] ({seeds}; {e['seeds']} x {e['problems']})"


def diff_cell(d: dict | None) -> str:
    """'+3.1 [-0.5, 6.8]; McNemar 80 / 43, p = 0.001; detectable 4.2'."""
    if not d:
        return "not run"
    if d["b"] == d["c"] == 0:  # no discordant pair: no test to run, nothing detectable to state
        return f"+0.0; the same outcome on all {d['pairs']} (seed, problem) pairs"
    return (
        f"{d['diff']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]; McNemar {d['b']} / {d['c']}, p = {d['p']:.3g}; "
        f"detectable {d['mdd']:.1f}"
    )


def load_arm(outs: list[Path], strategy: str = "no-repair") -> list[list[dict]] | None:
    """The rows of `strategy` in each repair.evaluate --out of `outs` (one training seed each; their eval seed 0),
    or None when one of them has not run."""
    from repair.run_files import load_runs

    arm = []
    for out in outs:
        runs = load_runs(out) if out.exists() else {}
        rows = [rows for (s, _), rows in sorted(runs.items()) if s == strategy]
        if not rows:
            return None
        arm.append(rows[0])
    return arm
