"""Ratio means with a 95% percentile bootstrap over rows: the interval of a token-level mean whose tokens come in rows.

A mean over tokens (CE per masked token, masked tokens per token) is a ratio sum(num) / sum(den) of per-row sums.
Tokens of one row share a prompt, a program and a mask draw, so they are not independent: the bootstrap resamples
whole rows (with replacement) and takes the 2.5 / 97.5 percentiles of the resampled ratios. A paired comparison of
two models on the same rows and the same masks is the same ratio with num = num_B - num_A (den is shared): the
resample keeps each row's pair together, so the interval is that of the paired difference.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95
METHOD = "95% percentile bootstrap over rows (rows resampled with replacement, a row's tokens kept together)"


def bootstrap_indices(num_rows: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, num_rows] row indices, fixed by the seed (one draw shared by every figure of a report)."""
    return np.random.default_rng(seed).integers(0, num_rows, size=(resamples, num_rows))


def ratio_intervals(
    num: np.ndarray, den: np.ndarray, idx: np.ndarray, level: float = LEVEL
) -> dict[str, list]:
    """Per column k of num, den [R, K] (per-row sums): mean sum(num) / sum(den) and the bootstrap interval over the
    resampled rows idx [S, R]. A column with no denominator gets None (no such tokens)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    total = den.sum(0)  # [K]
    mean = np.divide(num.sum(0), total, out=np.full(total.shape, np.nan), where=total > 0)
    num_s, den_s = num[idx].sum(1), den[idx].sum(1)  # [S, K]
    ratios = np.divide(num_s, den_s, out=np.full(num_s.shape, np.nan), where=den_s > 0)
    tail = 100 * (1 - level) / 2
    lo, hi = np.full(total.shape, np.nan), np.full(total.shape, np.nan)
    some = total > 0
    if some.any():  # a resample may lack a rare column's tokens: those resamples do not count for it
        lo[some], hi[some] = np.nanpercentile(ratios[:, some], [tail, 100 - tail], axis=0)
    return {"mean": _listed(mean), "lo": _listed(lo), "hi": _listed(hi)}


def _listed(a: np.ndarray) -> list:
    return [None if np.isnan(x) else float(x) for x in a.tolist()]
