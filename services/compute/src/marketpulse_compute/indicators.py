"""Technical indicators over whole series, with TA-Lib's definitions.

Every function returns a float64 array as long as its input. The first `*_lookback(...)`
entries are NaN: they are the bars TA-Lib emits nothing for, so the count of leading NaNs
equals TA-Lib's lookback and a series shorter than that is all NaN. Seeds, smoothing
constants and output alignment follow TA-Lib's C source (default compatibility mode, no
unstable period), which is what charting sites and most trading code reproduce.

Deliberate choices where TA-Lib says nothing or differs:
- Periods below TA-Lib's minimum (e.g. RSI(1), BBANDS(1)) are accepted because the
  definitions still hold; anything below 1 is a ValueError.
- Bollinger and realised volatility use a two-pass deviation per window instead of
  TA-Lib's running sum of squares, which loses digits on large prices with small spread,
  and a window of one repeated value has a deviation of exactly 0.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]


class MacdLines(NamedTuple):
    macd: FloatArray
    signal: FloatArray
    hist: FloatArray


class BollingerBands(NamedTuple):
    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


# --- lookbacks (number of leading NaNs) -------------------------------------------------


def sma_lookback(period: int) -> int:
    return _checked(period) - 1


def ema_lookback(period: int) -> int:
    return _checked(period) - 1


def rsi_lookback(period: int) -> int:
    return _checked(period)


def macd_lookback(fast: int, slow: int, signal: int) -> int:
    return max(_checked(fast), _checked(slow)) - 1 + _checked(signal) - 1


def bollinger_lookback(period: int) -> int:
    return _checked(period) - 1


def atr_lookback(period: int) -> int:
    return _checked(period)


def volatility_lookback(period: int) -> int:
    # A sample deviation needs two returns, and each return needs two closes.
    return _checked(period, minimum=2)


def obv_lookback() -> int:
    return 0


def vwap_lookback(period: int) -> int:
    return _checked(period) - 1


# --- indicators -------------------------------------------------------------------------


def sma(values: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average; TA-Lib SMA."""
    x = _series(values)
    out = _nans(x.size)
    start = sma_lookback(period)
    if x.size > start:
        out[start:] = _window_sum(x, period) / period
    return out


def ema(values: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, k = 2/(n+1), seeded by the SMA of the first n values."""
    x = _series(values)
    out = _nans(x.size)
    start = ema_lookback(period)
    if x.size > start:
        k = 2.0 / (period + 1)
        seed = float(np.mean(x[:period]))
        out[start] = seed
        out[period:] = _linear_recurrence(x[period:], 1.0 - k, k, seed)
    return out


def rsi(values: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's RSI; 0 (not NaN) when there was neither gain nor loss, as TA-Lib does."""
    x = _series(values)
    out = _nans(x.size)
    start = rsi_lookback(period)
    if x.size > start:
        change = np.diff(x)
        avg_gain = _wilder(np.maximum(change, 0.0), period)
        avg_loss = _wilder(np.maximum(-change, 0.0), period)
        total = avg_gain + avg_loss
        share = np.divide(avg_gain, total, out=np.zeros_like(total), where=total != 0.0)
        out[start:] = 100.0 * share
    return out


def macd(values: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdLines:
    """TA-Lib MACD: all three lines start at the same bar, `macd_lookback` in.

    TA-Lib seeds the fast EMA over the `fast` values that end on the slow EMA's seed bar,
    not over the first `fast` values, so both EMAs start on one bar. Feeding the fast EMA
    the series from index slow - fast reproduces exactly that. Like TA-Lib, a fast period
    longer than the slow one is swapped.
    """
    x = _series(values)
    fast, slow = sorted((fast, slow))
    start = macd_lookback(fast, slow, signal)
    line = _nans(x.size)
    signal_line = _nans(x.size)
    if x.size > start:
        fast_ema = ema(x[slow - fast :], fast)[fast - 1 :]
        slow_ema = ema(x, slow)[slow - 1 :]
        line[slow - 1 :] = fast_ema - slow_ema
        signal_line[slow - 1 :] = ema(line[slow - 1 :], signal)
        line[:start] = np.nan
    return MacdLines(line, signal_line, line - signal_line)


def bollinger(values: npt.ArrayLike, period: int = 20, num_std: float = 2.0) -> BollingerBands:
    """SMA middle band ± num_std population (ddof=0) deviations over the same window."""
    x = _series(values)
    middle = _nans(x.size)
    width = _nans(x.size)
    start = bollinger_lookback(period)
    if x.size > start:
        middle[start:] = _window_sum(x, period) / period
        width[start:] = num_std * _window_std(x, period, ddof=0)
    return BollingerBands(middle + width, middle, middle - width)


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """TA-Lib TRANGE: the bar's range widened to the previous close; NaN on the first bar."""
    h, lo, c = _same_length(high, low, close)
    out = _nans(c.size)
    if c.size > 1:
        prev = c[:-1]
        out[1:] = np.maximum.reduce([h[1:] - lo[1:], np.abs(h[1:] - prev), np.abs(lo[1:] - prev)])
    return out


def atr(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Wilder's average true range: mean of TR[1..n] at bar n, then Wilder smoothing."""
    ranges = true_range(high, low, close)
    out = _nans(ranges.size)
    start = atr_lookback(period)
    if ranges.size > start:
        out[start:] = _wilder(ranges[1:], period)
    return out


def realized_volatility(close: npt.ArrayLike, period: int = 20) -> FloatArray:
    """Sample (ddof=1) deviation of the last `period` log returns, per bar, not annualised.

    Scale by sqrt(bars per year) to annualise; keeping it per bar keeps the value
    comparable with the timeframe's own candles. Closes must be positive: a window that
    touches a non-positive close is NaN.
    """
    c = _series(close)
    out = _nans(c.size)
    start = volatility_lookback(period)
    if c.size > start:
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.log(c[1:] / c[:-1])
        returns[~np.isfinite(returns)] = np.nan
        out[start:] = _window_std(returns, period, ddof=1)
    return out


def obv(close: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """On-balance volume from the first bar's volume, as TA-Lib starts it."""
    c, v = _same_length(close, volume)
    if c.size == 0:
        return _nans(0)
    steps = np.sign(np.diff(c)) * v[1:]
    # One sequential cumsum from v[0], so the rounding matches TA-Lib's running total.
    return np.cumsum(np.concatenate(([v[0]], steps)))


def rolling_vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    period: int = 20,
) -> FloatArray:
    """Rolling VWAP: sum(typical * volume) / sum(volume) over `period` bars.

    Not a TA-Lib function. typical = (high + low + close) / 3. A window with no volume has
    no volume-weighted price, so it is NaN rather than a made-up fallback.
    """
    h, lo, c, v = _same_length(high, low, close, volume)
    out = _nans(c.size)
    start = vwap_lookback(period)
    if c.size > start:
        typical = (h + lo + c) / 3.0
        traded = _window_sum(typical * v, period)
        volume_sum = _window_sum(v, period)
        out[start:] = np.divide(
            traded, volume_sum, out=np.full_like(traded, np.nan), where=volume_sum != 0.0
        )
    return out


# --- internals --------------------------------------------------------------------------


def _wilder(values: FloatArray, period: int) -> FloatArray:
    """Mean of the first `period` values, then avg = (avg * (n - 1) + value) / n."""
    seed = float(np.mean(values[:period]))
    smoothed = _linear_recurrence(values[period:], (period - 1) / period, 1.0 / period, seed)
    return np.concatenate(([seed], smoothed))


def _linear_recurrence(inputs: FloatArray, decay: float, gain: float, start: float) -> FloatArray:
    """y[i] = decay * y[i-1] + gain * inputs[i], with y[-1] = start, without a Python loop.

    A doubling scan: after the step with stride s, y[i] holds the recurrence's terms from
    the last 2s inputs, so log2(len) vectorised passes finish it, and fewer once decay**s
    underflows to 0 (13 for an EMA(12)). Every weight is a power of decay in [0, 1], so
    nothing is amplified and the result stays within a few ulps per pass of the loop.
    """
    y = gain * inputs
    if y.size == 0:
        return y
    y[0] += decay * start
    stride, weight = 1, decay
    while stride < y.size and weight > 0.0:
        # The right side is evaluated in full before the assignment, so every y[i] is
        # combined with last pass's y[i - stride], as the scan requires.
        y[stride:] = y[stride:] + weight * y[:-stride]
        stride, weight = 2 * stride, weight * weight
    return y


def _window_std(values: FloatArray, period: int, ddof: int) -> FloatArray:
    """Deviation of each window, taken about the window's last value.

    The shift changes nothing mathematically but makes a window of one repeated value
    exactly 0 (a raw mean of n equal floats need not round back to that float), so flat
    markets get bands that close exactly instead of ±1e-13 noise.
    """
    windows = _windows(values, period)
    deviation = windows - windows[:, -1:]
    deviation -= (np.einsum("ij->i", deviation) / period)[:, np.newaxis]
    squares: FloatArray = np.einsum("ij,ij->i", deviation, deviation)
    return np.sqrt(squares / (period - ddof))


def _window_sum(values: FloatArray, period: int) -> FloatArray:
    # einsum sums each short row in one pass; a reduction over axis 1 of the strided
    # view costs several times more, and a cumsum difference would drift on long series.
    sums: FloatArray = np.einsum("ij->i", _windows(values, period))
    return sums


def _windows(values: FloatArray, period: int) -> FloatArray:
    return sliding_window_view(values, period)


def _nans(size: int) -> FloatArray:
    return np.full(size, np.nan)


def _series(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {array.shape}")
    return array


def _same_length(*columns: npt.ArrayLike) -> list[FloatArray]:
    arrays = [_series(column) for column in columns]
    if len({array.size for array in arrays}) > 1:
        raise ValueError(f"series lengths differ: {[array.size for array in arrays]}")
    return arrays


def _checked(period: int, minimum: int = 1) -> int:
    value = operator.index(period)  # a float period would silently mis-slice
    if value < minimum:
        raise ValueError(f"period must be an integer >= {minimum}, got {period!r}")
    return value


__all__ = [
    "BollingerBands",
    "FloatArray",
    "MacdLines",
    "atr",
    "atr_lookback",
    "bollinger",
    "bollinger_lookback",
    "ema",
    "ema_lookback",
    "macd",
    "macd_lookback",
    "obv",
    "obv_lookback",
    "realized_volatility",
    "rolling_vwap",
    "rsi",
    "rsi_lookback",
    "sma",
    "sma_lookback",
    "true_range",
    "volatility_lookback",
    "vwap_lookback",
]
