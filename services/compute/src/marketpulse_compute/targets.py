"""What is forecast: the simple return from a candle's close to the close `horizon` later.

A sample is a candle i; its label is "up" (return > 0; a flat move counts as not up) and
is known once candle i + horizon has closed. A pair whose open times are not exactly
`horizon` candles apart straddles a hole in the cache, so it has no return at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Targets:
    """Per candle i: `forward[i]` (i -> i+h) and `past[i]` (i-h -> i); NaN when unknown."""

    horizon: int
    forward: FloatArray
    past: FloatArray

    @property
    def up(self) -> FloatArray:
        """1.0 where the forward return is positive, 0.0 where not, NaN where unknown."""
        return np.where(np.isfinite(self.forward), (self.forward > 0).astype(np.float64), np.nan)


def horizon_returns(open_time: IntArray, close: FloatArray, horizon: int, step_s: int) -> Targets:
    """Forward and past `horizon`-candle simple returns of every candle."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 candle, got {horizon}")
    n = close.size
    forward = np.full(n, np.nan)
    if n > horizon:
        spans = open_time[horizon:] - open_time[:-horizon]
        moves = close[horizon:] / close[:-horizon] - 1.0
        forward[:-horizon] = np.where(spans == horizon * step_s, moves, np.nan)
    past = np.full(n, np.nan)
    past[horizon:] = forward[:-horizon]
    return Targets(horizon=horizon, forward=forward, past=past)
