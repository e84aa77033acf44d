"""The forecast target: the simple return `horizon` candles ahead, and the one just behind."""

from __future__ import annotations

import numpy as np
import pytest

from marketpulse_compute.targets import horizon_returns

STEP = 3600


def times(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * STEP


def test_forward_and_past_returns_over_one_candle() -> None:
    """forward[i] = c[i+1]/c[i] - 1 and past[i] = forward[i-1]; unknown ends are NaN."""
    close = np.array([100.0, 110.0, 99.0, 99.0])
    targets = horizon_returns(times(4), close, 1, STEP)
    np.testing.assert_allclose(targets.forward[:3], [0.1, -0.1, 0.0])
    assert np.isnan(targets.forward[3])
    assert np.isnan(targets.past[0])
    np.testing.assert_allclose(targets.past[1:], [0.1, -0.1, 0.0])


def test_a_flat_move_is_not_up_and_an_unknown_one_is_nan() -> None:
    """Labels: 1 for a rise, 0 for a fall or no change, NaN where the future is unknown."""
    close = np.array([100.0, 110.0, 99.0, 99.0])
    up = horizon_returns(times(4), close, 1, STEP).up
    np.testing.assert_array_equal(up[:3], [1.0, 0.0, 0.0])
    assert np.isnan(up[3])


def test_a_longer_horizon_spans_that_many_candles() -> None:
    """With horizon 2, forward[i] compares candle i + 2 with candle i."""
    close = np.array([100.0, 50.0, 120.0, 60.0])
    targets = horizon_returns(times(4), close, 2, STEP)
    np.testing.assert_allclose(targets.forward[:2], [0.2, 0.2])
    assert np.isnan(targets.forward[2:]).all()
    np.testing.assert_allclose(targets.past[2:], [0.2, 0.2])


def test_a_pair_across_a_hole_in_the_cache_has_no_return() -> None:
    """Candles whose open times are not `horizon` steps apart are not a sample."""
    open_time = np.array([0, STEP, 3 * STEP, 4 * STEP], dtype=np.int64)  # candle 2 missing
    targets = horizon_returns(open_time, np.array([1.0, 2.0, 3.0, 4.0]), 1, STEP)
    assert np.isfinite(targets.forward[0])
    assert np.isnan(targets.forward[1])
    assert np.isfinite(targets.forward[2])


def test_a_horizon_below_one_is_refused() -> None:
    """Zero candles ahead is not a forecast."""
    with pytest.raises(ValueError, match="horizon"):
        horizon_returns(times(3), np.ones(3), 0, STEP)
