"""EWMA volatility (RiskMetrics): the spread of the next return, from recent returns only.

    var[j] = lam * var[j-1] + (1 - lam) * r[j]^2,   r[j] = log(close[j] / close[j-1])

lam = 0.94 is RiskMetrics' daily decay: a half-life of ~11 returns, quick enough to follow
volatility clusters, slow enough not to jump on one candle. The recursion is seeded with
the mean square of the first `SEED_RETURNS` returns, so var[j] depends on candles <= j.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

RISKMETRICS_LAMBDA = 0.94
SEED_RETURNS = 20


def ewma_volatility(close: FloatArray, lam: float = RISKMETRICS_LAMBDA) -> FloatArray:
    """Per-candle deviation of log returns at every candle; NaN until the seed is complete."""
    if not 0.0 < lam < 1.0:
        raise ValueError(f"EWMA lambda must be in (0, 1), got {lam}")
    out = np.full(close.size, np.nan)
    if close.size <= SEED_RETURNS:
        return out
    squares = np.log(close[1:] / close[:-1]) ** 2
    variance = float(np.mean(squares[:SEED_RETURNS]))
    # Sequential by nature; a plain loop over a few thousand floats costs well under 1 ms.
    values = [variance]
    for square in squares[SEED_RETURNS:].tolist():
        variance = lam * variance + (1.0 - lam) * square
        values.append(variance)
    out[SEED_RETURNS:] = np.sqrt(values)
    return out
