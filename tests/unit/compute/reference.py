"""Plain-Python reference for the indicators, written bar by bar from TA-Lib's definitions.

Deliberately naive and independent of marketpulse_compute: windows are re-summed on every
bar, recursions are spelled out, and nothing is shared with the product code, so an
agreement between the two is evidence rather than an echo. Also imported by path from
bench/bench_indicators.py as the plain-Python baseline. Each function returns a list as
long as its input with NaN where TA-Lib emits nothing.

The test series generators and the comparison helper live at the bottom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NAN = math.nan


def ref_sma(x: Sequence[float], n: int) -> list[float]:
    out = [NAN] * len(x)
    for t in range(n - 1, len(x)):
        total = 0.0
        for i in range(t - n + 1, t + 1):
            total += x[i]
        out[t] = total / n
    return out


def ref_ema(x: Sequence[float], n: int) -> list[float]:
    out = [NAN] * len(x)
    if len(x) < n:
        return out
    k = 2.0 / (n + 1)
    prev = 0.0
    for i in range(n):
        prev += x[i]
    prev /= n
    out[n - 1] = prev
    for t in range(n, len(x)):
        prev = (x[t] - prev) * k + prev
        out[t] = prev
    return out


def ref_rsi(x: Sequence[float], n: int) -> list[float]:
    out = [NAN] * len(x)
    if len(x) <= n:
        return out
    gain = loss = 0.0
    for i in range(1, n + 1):
        change = x[i] - x[i - 1]
        if change > 0:
            gain += change
        else:
            loss -= change
    gain /= n
    loss /= n
    out[n] = _rsi_value(gain, loss)
    for t in range(n + 1, len(x)):
        change = x[t] - x[t - 1]
        gain = (gain * (n - 1) + (change if change > 0 else 0.0)) / n
        loss = (loss * (n - 1) + (-change if change < 0 else 0.0)) / n
        out[t] = _rsi_value(gain, loss)
    return out


def _rsi_value(gain: float, loss: float) -> float:
    total = gain + loss
    return 0.0 if total == 0.0 else 100.0 * gain / total


def ref_macd(
    x: Sequence[float], fast: int, slow: int, signal: int
) -> tuple[list[float], list[float], list[float]]:
    """TA-Lib: the fast EMA is seeded over the `fast` values ending at index slow - 1."""
    if fast > slow:
        fast, slow = slow, fast
    size = len(x)
    start = slow - 1 + signal - 1
    line, sig, hist = [NAN] * size, [NAN] * size, [NAN] * size
    if size <= start:
        return line, sig, hist
    k_fast, k_slow, k_sig = 2.0 / (fast + 1), 2.0 / (slow + 1), 2.0 / (signal + 1)
    fast_ema = sum(x[slow - fast : slow]) / fast
    slow_ema = sum(x[0:slow]) / slow
    raw = [NAN] * size
    raw[slow - 1] = fast_ema - slow_ema
    for t in range(slow, size):
        fast_ema = (x[t] - fast_ema) * k_fast + fast_ema
        slow_ema = (x[t] - slow_ema) * k_slow + slow_ema
        raw[t] = fast_ema - slow_ema
    sig_ema = sum(raw[slow - 1 : start + 1]) / signal
    for t in range(start, size):
        if t > start:
            sig_ema = (raw[t] - sig_ema) * k_sig + sig_ema
        line[t], sig[t], hist[t] = raw[t], sig_ema, raw[t] - sig_ema
    return line, sig, hist


def ref_bollinger(
    x: Sequence[float], n: int, k: float
) -> tuple[list[float], list[float], list[float]]:
    upper, middle, lower = [NAN] * len(x), [NAN] * len(x), [NAN] * len(x)
    for t in range(n - 1, len(x)):
        window = x[t - n + 1 : t + 1]
        mean = sum(window) / n
        deviation = math.sqrt(sum((v - mean) ** 2 for v in window) / n)
        upper[t], middle[t], lower[t] = mean + k * deviation, mean, mean - k * deviation
    return upper, middle, lower


def ref_atr(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int
) -> list[float]:
    out = [NAN] * len(close)
    if len(close) <= n:
        return out
    ranges = [NAN]
    for i in range(1, len(close)):
        ranges.append(
            max(
                high[i] - low[i],
                abs(high[i] - close[i - 1]),
                abs(low[i] - close[i - 1]),
            )
        )
    avg = sum(ranges[1 : n + 1]) / n
    out[n] = avg
    for t in range(n + 1, len(close)):
        avg = (avg * (n - 1) + ranges[t]) / n
        out[t] = avg
    return out


def ref_volatility(close: Sequence[float], n: int) -> list[float]:
    out = [NAN] * len(close)
    returns = [NAN]
    for i in range(1, len(close)):
        positive = close[i] > 0 and close[i - 1] > 0
        returns.append(math.log(close[i] / close[i - 1]) if positive else NAN)
    for t in range(n, len(close)):
        window = returns[t - n + 1 : t + 1]
        mean = sum(window) / n
        out[t] = math.sqrt(sum((r - mean) ** 2 for r in window) / (n - 1))
    return out


def ref_obv(close: Sequence[float], volume: Sequence[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for i in range(len(close)):
        if i == 0:
            total = volume[0]
        elif close[i] > close[i - 1]:
            total += volume[i]
        elif close[i] < close[i - 1]:
            total -= volume[i]
        out.append(total)
    return out


def ref_vwap(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    n: int,
) -> list[float]:
    out = [NAN] * len(close)
    for t in range(n - 1, len(close)):
        traded = volume_sum = 0.0
        for i in range(t - n + 1, t + 1):
            traded += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
            volume_sum += volume[i]
        out[t] = NAN if volume_sum == 0.0 else traded / volume_sum
    return out


def ref_indicator_series(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
) -> dict[str, list[float]]:
    """The default full set (the product's IndicatorParams defaults), keyed like the product."""
    series = {f"ema_{n}": ref_ema(close, n) for n in (12, 26, 50)}
    series["rsi_14"] = ref_rsi(close, 14)
    series["macd"], series["macd_signal"], series["macd_hist"] = ref_macd(close, 12, 26, 9)
    series["bb_upper"], series["bb_middle"], series["bb_lower"] = ref_bollinger(close, 20, 2.0)
    series["atr_14"] = ref_atr(high, low, close, 14)
    series["volatility_20"] = ref_volatility(close, 20)
    series["obv"] = ref_obv(close, volume)
    series["vwap_20"] = ref_vwap(high, low, close, volume, 20)
    return series


# --- test series ------------------------------------------------------------------------


class Bars:
    """Columns of a candle series as plain lists (what the reference functions take)."""

    def __init__(
        self, high: list[float], low: list[float], close: list[float], volume: list[float]
    ):
        self.high, self.low, self.close, self.volume = high, low, close, volume
        self.open = [close[0], *close[:-1]] if close else []


def random_walk(seed: int, length: int, start: float = 100.0) -> Bars:
    """Random walk in log price (so it stays positive) with bars around it: the plain case."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.01, length)))
    return _with_bars(rng, close, spread=0.005 * close)


def real_shaped(seed: int, length: int = 600) -> Bars:
    """Geometric walk with GARCH-like volatility clustering and the awkward stretches.

    It opens with 40 untraded bars (identical closes, zero volume: RSI's 0 case, a VWAP
    window without volume, a Bollinger band of zero width) and has a flat stretch in the
    middle (zero log returns) followed by a volatility burst.
    """
    rng = np.random.default_rng(seed)
    variance, returns = 1e-4, np.empty(length)
    for i in range(length):
        shock = rng.standard_normal()
        returns[i] = math.sqrt(variance) * shock
        variance = 2e-6 + 0.08 * variance * shock**2 + 0.9 * variance
    middle = length // 2
    returns[:40] = 0.0
    returns[middle : middle + 30] = 0.0
    returns[middle + 30 : middle + 40] *= 8.0
    close = 30_000.0 * np.exp(np.cumsum(returns))
    bars = _with_bars(rng, close, spread=0.004 * close)
    for i in range(40):
        bars.high[i] = bars.low[i] = bars.close[i]
        bars.volume[i] = 0.0
    return bars


def _with_bars(rng: np.random.Generator, close: np.ndarray, spread: float | np.ndarray) -> Bars:
    size = close.size
    high = close + np.abs(rng.normal(0.0, 1.0, size)) * spread
    low = close - np.abs(rng.normal(0.0, 1.0, size)) * spread
    volume = rng.lognormal(3.0, 1.0, size)
    return Bars(high.tolist(), low.tolist(), close.tolist(), volume.tolist())


# --- comparison -------------------------------------------------------------------------


def assert_series_close(
    actual: Sequence[float], expected: Sequence[float], scale: float, name: str = ""
) -> None:
    """Same NaN positions, and values equal to 1e-9 relative.

    Values that are differences of large numbers (MACD, OBV) can sit near zero, where a
    relative test measures nothing but rounding; there the floor is 1e-12 of `scale`,
    the magnitude of the inputs they were computed from.
    """
    assert len(actual) == len(expected), name
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if math.isnan(e):
            assert math.isnan(a), f"{name}[{i}]: expected NaN, got {a}"
        else:
            assert math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12 * scale), (
                f"{name}[{i}]: {a} != {e}"
            )


def input_scales(bars: Bars) -> dict[str, float]:
    """Per key of the default set, the magnitude of the inputs it is computed from."""
    price = max((abs(v) for v in bars.high), default=1.0)
    returns = [abs(math.log(b / a)) for a, b in zip(bars.close, bars.close[1:], strict=False)]
    scales = dict.fromkeys(ref_indicator_series([], [], [], []), price)
    scales.update(
        rsi_14=100.0,
        obv=max(math.fsum(bars.volume), 1.0),
        volatility_20=max(returns, default=1.0),
    )
    return scales


def leading_nans(values: Sequence[float]) -> int:
    count = 0
    for value in values:
        if not math.isnan(value):
            break
        count += 1
    return count
