"""Synthetic candle histories for the forecaster's tests, as Columns (no pydantic, fast)."""

from __future__ import annotations

import numpy as np

from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.window import Columns

TF = Timeframe.H1
START = 1_700_000_000 // 3600 * 3600


def random_walk(
    n: int, *, seed: int = 1, start_price: float = 100.0, volume: bool = True, sigma: float = 0.01
) -> Columns:
    """A seeded log-normal random walk of aligned, consistent OHLCV candles."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    return columns_from_close(close, rng, volume=volume)


def columns_from_close(
    close: np.ndarray, rng: np.random.Generator, *, volume: bool = True, start: int = START
) -> Columns:
    n = close.size
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    return Columns(
        open_time=start + np.arange(n, dtype=np.int64) * TF.seconds,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=rng.lognormal(3.0, 0.5, n) if volume else None,
    )


def with_new_future(cols: Columns, k: int, seed: int) -> Columns:
    """The same candles up to index k, then a different random walk from candle k's close."""
    rng = np.random.default_rng(seed)
    n = cols.close.size
    tail = cols.close[k] * np.exp(np.cumsum(rng.normal(0.0, 0.03, n - k - 1)))
    future = columns_from_close(np.concatenate((cols.close[: k + 1], tail)), rng)
    keep = slice(0, k + 1)
    volume = None
    if cols.volume is not None and future.volume is not None:
        volume = np.concatenate((cols.volume[keep], future.volume[k + 1 :]))
    return Columns(
        open_time=cols.open_time,
        open=np.concatenate((cols.open[keep], future.open[k + 1 :])),
        high=np.concatenate((cols.high[keep], future.high[k + 1 :])),
        low=np.concatenate((cols.low[keep], future.low[k + 1 :])),
        close=future.close,
        volume=volume,
    )


def shifted_walk(n: int, shift_at: int, *, drift: float, seed: int, sigma: float = 0.01) -> Columns:
    """A random walk whose returns gain a mean of `drift` per candle from `shift_at` on."""
    rng = np.random.default_rng(seed)
    mean = np.where(np.arange(n) >= shift_at, drift, 0.0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(mean, sigma)))
    return columns_from_close(close, rng)


def garch_walk(n: int, *, seed: int, sigma: float = 0.01) -> Columns:
    """A driftless walk with GARCH(1,1) volatility clusters, persistent like the simulated
    market's (alpha 0.08, beta 0.90: a burst halves in ~35 candles)."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(size=n)
    variance = sigma**2
    returns = np.empty(n)
    for i in range(n):
        returns[i] = np.sqrt(variance) * shocks[i]
        variance = 0.02 * sigma**2 + 0.08 * returns[i] ** 2 + 0.90 * variance
    return columns_from_close(100.0 * np.exp(np.cumsum(returns)), rng)
