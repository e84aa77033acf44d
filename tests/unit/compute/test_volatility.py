"""EWMA volatility follows the RiskMetrics recursion from a seeded start."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketpulse_compute.volatility import SEED_RETURNS, ewma_volatility
from tests.unit.compute.series import random_walk


def test_the_recursion_matches_a_hand_loop() -> None:
    """var = lam * var + (1 - lam) * r^2, seeded with the mean square of the first returns."""
    close = random_walk(80, seed=2).close
    r = np.log(close[1:] / close[:-1])
    variance = float(np.mean(r[:SEED_RETURNS] ** 2))
    expected = [math.sqrt(variance)]
    for value in r[SEED_RETURNS:]:
        variance = 0.94 * variance + 0.06 * value**2
        expected.append(math.sqrt(variance))
    out = ewma_volatility(close, 0.94)
    assert np.isnan(out[:SEED_RETURNS]).all()
    np.testing.assert_allclose(out[SEED_RETURNS:], expected, rtol=1e-12)


def test_constant_moves_have_their_own_size_as_volatility() -> None:
    """Every return equal to 1 %: the deviation estimate is exactly that size."""
    close = 100.0 * np.exp(0.01 * np.arange(60))
    out = ewma_volatility(close)
    np.testing.assert_allclose(out[SEED_RETURNS:], 0.01, rtol=1e-9)


def test_a_short_history_has_no_estimate_and_a_bad_lambda_is_refused() -> None:
    """Until the seed is complete the value is NaN; lambda must lie in (0, 1)."""
    assert np.isnan(ewma_volatility(np.ones(SEED_RETURNS))).all()
    with pytest.raises(ValueError, match="lambda"):
        ewma_volatility(np.ones(40), 1.0)
