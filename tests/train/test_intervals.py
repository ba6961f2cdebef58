"""The row bootstrap of a ratio mean (train/intervals.py) against cases small enough to enumerate by hand."""

import numpy as np
import pytest

from train.intervals import bootstrap_indices, ratio_intervals


def test_two_rows_interval_spans_the_resampled_ratios():
    """Rows (num, den) = (1, 1) and (3, 2): a resample is both row 0 (ratio 1), one of each (4/3) or both row 1
    (3/2), with probabilities 1/4, 1/2, 1/4; so the 95% interval is [1, 3/2] around the mean 4/3. A column with no
    denominator has no mean; a paired difference of equal sums is exactly 0."""
    num, den = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 5.0], [2.0, 0.0, 7.0]])
    idx = bootstrap_indices(2, 4000, seed=0)
    got = ratio_intervals(num, den, idx)
    assert got["mean"] == [pytest.approx(4 / 3), None, 0.0]
    assert got["lo"] == [1.0, None, 0.0] and got["hi"] == [1.5, None, 0.0]
    share = np.isclose(num[idx, 0].sum(1) / den[idx, 0].sum(1), 4 / 3).mean()
    assert share == pytest.approx(0.5, abs=0.03)


def test_rows_are_resampled_whole_and_the_draw_is_fixed_by_the_seed():
    rng = np.random.default_rng(1)
    den = rng.integers(1, 20, size=(50, 1)).astype(float)
    num = den * rng.normal(2.0, 0.5, size=(50, 1))
    a, b = (ratio_intervals(num, den, bootstrap_indices(50, 500, seed=3)) for _ in range(2))
    assert a == b
    assert a["lo"][0] < a["mean"][0] < a["hi"][0]
    # a constant per-row ratio leaves nothing to resample: the interval collapses onto the mean
    flat = ratio_intervals(den * 2.5, den, bootstrap_indices(50, 500, seed=3))
    assert flat["lo"][0] == pytest.approx(2.5) and flat["hi"][0] == pytest.approx(2.5)
