"""The indicators as O(1)-per-candle state machines, equal to the batch functions.

Each state's `update` takes the newest bar and returns the indicator's value at that bar,
or None while inside the lookback, so a consumer can follow a live candle stream without
recomputing a window. Fed a series bar by bar, the values equal those of
`marketpulse_compute.indicators` at every bar (to rounding; the tests hold them to 1e-9).

Rolling windows keep running sums, which drift as rounding errors pile up. They are
rebuilt exactly from the window once per window length (amortised O(1)) and as soon as
the tracked quantity falls far below its recent size: that is the moment a running
total's accumulated error stops being negligible relative to what it now measures.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple, Protocol

from marketpulse_compute import indicators as ind
from marketpulse_compute.indicator_set import IndicatorParams, indicator_lookbacks

# Rebuild a running total once it falls below this share of its size since the last
# rebuild: the error carried is ~window * eps * that size, so the relative error of what
# remains stays below ~window * eps / _DRIFT_RATIO (~1e-11 for a window of 20).
_DRIFT_RATIO = 1e-3


class CandleLike(Protocol):
    """What the set reads from a candle; marketpulse_common's Candle fits as it is."""

    @property
    def h(self) -> float: ...
    @property
    def l(self) -> float: ...  # noqa: E743  (OHLC is the domain's own vocabulary)
    @property
    def c(self) -> float: ...
    @property
    def v(self) -> float | None: ...


class Ohlcv(NamedTuple):
    o: float
    h: float
    l: float  # noqa: E741  (OHLC is the domain's own vocabulary)
    c: float
    v: float | None = None


class MacdValue(NamedTuple):
    macd: float
    signal: float
    hist: float


class BollingerValue(NamedTuple):
    upper: float
    middle: float
    lower: float


class EmaState:
    """EMA seeded by the SMA of its first `period` inputs."""

    __slots__ = ("_count", "_k", "_period", "_sum", "value")

    def __init__(self, period: int) -> None:
        ind.ema_lookback(period)
        self._period = period
        self._k = 2.0 / (period + 1)
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = (x - self.value) * self._k + self.value
            return self.value
        self._count += 1
        self._sum += x
        if self._count == self._period:
            self.value = self._sum / self._period
        return self.value


class _WilderState:
    """Mean of the first `period` inputs, then avg = (avg * (n - 1) + x) / n."""

    __slots__ = ("_count", "_period", "_sum", "value")

    def __init__(self, period: int) -> None:
        self._period = period
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = (self.value * (self._period - 1) + x) / self._period
            return self.value
        self._count += 1
        self._sum += x
        if self._count == self._period:
            self.value = self._sum / self._period
        return self.value


class RsiState:
    """Wilder's RSI; 0 when there was neither gain nor loss, as TA-Lib does."""

    __slots__ = ("_gain", "_loss", "_prev")

    def __init__(self, period: int = 14) -> None:
        ind.rsi_lookback(period)
        self._gain = _WilderState(period)
        self._loss = _WilderState(period)
        self._prev: float | None = None

    def update(self, close: float) -> float | None:
        prev, self._prev = self._prev, close
        if prev is None:
            return None
        change = close - prev
        gain = self._gain.update(max(change, 0.0))
        loss = self._loss.update(max(-change, 0.0))
        if gain is None or loss is None:
            return None
        total = gain + loss
        return 0.0 if total == 0.0 else 100.0 * (gain / total)


class MacdState:
    """TA-Lib MACD: the fast EMA is fed from bar slow - fast on, so both seeds end together."""

    __slots__ = ("_fast", "_fast_starts_at", "_seen", "_signal", "_slow")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        ind.macd_lookback(fast, slow, signal)
        fast, slow = sorted((fast, slow))
        self._fast = EmaState(fast)
        self._slow = EmaState(slow)
        self._signal = EmaState(signal)
        self._fast_starts_at = slow - fast
        self._seen = 0

    def update(self, close: float) -> MacdValue | None:
        fast = self._fast.update(close) if self._seen >= self._fast_starts_at else None
        self._seen += 1
        slow = self._slow.update(close)
        if fast is None or slow is None:
            return None
        line = fast - slow
        signal = self._signal.update(line)
        return None if signal is None else MacdValue(line, signal, line - signal)


class BollingerState:
    """SMA ± num_std population deviations, from O(1) rolling moments."""

    __slots__ = ("_moments", "_num_std")

    def __init__(self, period: int = 20, num_std: float = 2.0) -> None:
        ind.bollinger_lookback(period)
        self._moments = _RollingMoments(period)
        self._num_std = num_std

    def update(self, close: float) -> BollingerValue | None:
        self._moments.push(close)
        if not self._moments.full:
            return None
        mean = self._moments.mean
        width = self._num_std * math.sqrt(self._moments.variance(ddof=0))
        return BollingerValue(mean + width, mean, mean - width)


class AtrState:
    """Wilder's ATR over true ranges from the second bar on."""

    __slots__ = ("_avg", "_prev_close")

    def __init__(self, period: int = 14) -> None:
        ind.atr_lookback(period)
        self._avg = _WilderState(period)
        self._prev_close: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        prev, self._prev_close = self._prev_close, close
        if prev is None:
            return None
        return self._avg.update(max(high - low, abs(high - prev), abs(low - prev)))


class VolatilityState:
    """Sample deviation of the last `period` log returns, per bar (not annualised)."""

    __slots__ = ("_moments", "_prev_close")

    def __init__(self, period: int = 20) -> None:
        ind.volatility_lookback(period)
        self._moments = _RollingMoments(period)
        self._prev_close: float | None = None

    def update(self, close: float) -> float | None:
        prev, self._prev_close = self._prev_close, close
        if prev is None:
            return None
        valid = prev > 0.0 and close > 0.0
        self._moments.push(math.log(close / prev) if valid else math.nan)
        if not self._moments.full:
            return None
        return math.sqrt(self._moments.variance(ddof=1))


class ObvState:
    """On-balance volume, starting from the first bar's volume."""

    __slots__ = ("_prev_close", "value")

    def __init__(self) -> None:
        self._prev_close: float | None = None
        self.value = 0.0

    def update(self, close: float, volume: float) -> float:
        prev, self._prev_close = self._prev_close, close
        if prev is None:
            self.value = volume
        elif close > prev:
            self.value += volume
        elif close < prev:
            self.value -= volume
        return self.value


class VwapState:
    """Rolling VWAP over `period` bars; NaN when the window traded nothing."""

    __slots__ = ("_traded", "_volume")

    def __init__(self, period: int = 20) -> None:
        ind.vwap_lookback(period)
        self._traded = _RollingSum(period)
        self._volume = _RollingSum(period)

    def update(self, high: float, low: float, close: float, volume: float) -> float | None:
        self._traded.push((high + low + close) / 3.0 * volume)
        self._volume.push(volume)
        if not self._volume.full:
            return None
        volume_sum = self._volume.total
        return math.nan if volume_sum == 0.0 else self._traded.total / volume_sum


class IncrementalIndicatorSet:
    """The same keys and values as compute_indicator_set, one candle at a time."""

    def __init__(self, params: IndicatorParams | None = None, with_volume: bool = True) -> None:
        self.params = params or IndicatorParams()
        self.with_volume = with_volume
        self.lookback = indicator_lookbacks(self.params, with_volume)
        p = self.params
        self._emas = {f"ema_{n}": EmaState(n) for n in p.ema_periods}
        self._rsi_key, self._rsi = f"rsi_{p.rsi_period}", RsiState(p.rsi_period)
        self._macd = MacdState(p.macd_fast, p.macd_slow, p.macd_signal)
        self._bands = BollingerState(p.bb_period, p.bb_num_std)
        self._atr_key, self._atr = f"atr_{p.atr_period}", AtrState(p.atr_period)
        self._vol_key = f"volatility_{p.volatility_period}"
        self._vol = VolatilityState(p.volatility_period)
        self._obv = ObvState()
        self._vwap_key, self._vwap = f"vwap_{p.vwap_period}", VwapState(p.vwap_period)

    def update(self, candle: CandleLike) -> dict[str, float | None]:
        """Advance by one closed candle; values of every indicator at that candle."""
        if self.with_volume and candle.v is None:
            raise ValueError("this set was built with_volume but the candle has none")
        close = candle.c
        values = {key: state.update(close) for key, state in self._emas.items()}
        values[self._rsi_key] = self._rsi.update(close)
        lines = self._macd.update(close)
        values["macd"], values["macd_signal"], values["macd_hist"] = lines or (None,) * 3
        bands = self._bands.update(close)
        values["bb_upper"], values["bb_middle"], values["bb_lower"] = bands or (None,) * 3
        values[self._atr_key] = self._atr.update(candle.h, candle.l, close)
        values[self._vol_key] = self._vol.update(close)
        if self.with_volume and candle.v is not None:
            values["obv"] = self._obv.update(close, candle.v)
            values[self._vwap_key] = self._vwap.update(candle.h, candle.l, close, candle.v)
        return {key: _finite_or_none(value) for key, value in values.items()}


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class _RollingSum:
    """Sum of the last `size` values; exactly 0.0 when they are all zero."""

    __slots__ = ("_nonzero", "_scale", "_since_exact", "_size", "_total", "_window")

    def __init__(self, size: int) -> None:
        self._size = size
        self._window: deque[float] = deque()
        self._total = 0.0
        self._scale = 0.0
        self._since_exact = 0
        # Counting non-zero values makes "nothing traded" exact, whatever the drift.
        self._nonzero = 0

    @property
    def full(self) -> bool:
        return len(self._window) == self._size

    @property
    def total(self) -> float:
        return self._total if self._nonzero else 0.0

    def push(self, x: float) -> None:
        self._window.append(x)
        self._nonzero += x != 0.0
        self._total += x
        if len(self._window) > self._size:
            old = self._window.popleft()
            self._nonzero -= old != 0.0
            self._total -= old
        self._since_exact += 1
        self._scale = max(self._scale, abs(self._total))
        if self._since_exact >= self._size or abs(self._total) < _DRIFT_RATIO * self._scale:
            self._rebuild()

    def _rebuild(self) -> None:
        self._total = math.fsum(self._window)
        self._scale = abs(self._total)
        self._since_exact = 0


class _RollingMoments:
    """Mean and sum of squared deviations (M2) of the last `size` values.

    Welford's update for a sliding window: replacing `old` by `x` moves the mean by
    (x - old) / size and M2 by (x - old) * (x - new_mean + old - old_mean). It works on
    deviations, not on raw squares, so large prices with a small spread keep their digits.
    """

    __slots__ = ("_m2", "_mean", "_nonfinite", "_scale", "_since_exact", "_size", "_window")

    def __init__(self, size: int) -> None:
        self._size = size
        self._window: deque[float] = deque()
        self._mean = 0.0
        self._m2 = 0.0
        self._scale = 0.0
        self._since_exact = 0
        # Running sums cannot recover from a NaN, so while one is in the window the
        # moments are NaN and they are rebuilt when it leaves.
        self._nonfinite = 0

    @property
    def full(self) -> bool:
        return len(self._window) == self._size

    @property
    def mean(self) -> float:
        return math.nan if self._nonfinite else self._mean

    def variance(self, ddof: int) -> float:
        if self._nonfinite:
            return math.nan
        return max(self._m2, 0.0) / (self._size - ddof)

    def push(self, x: float) -> None:
        was_full = self.full
        self._window.append(x)
        self._nonfinite += not math.isfinite(x)
        old = self._window.popleft() if was_full else math.nan
        if was_full:
            self._nonfinite -= not math.isfinite(old)
        if not self.full or self._nonfinite:
            self._since_exact = self._size  # forces a rebuild on the first clean push
            return
        self._since_exact += 1
        if self._since_exact > self._size:
            self._rebuild()
            return
        mean = self._mean + (x - old) / self._size
        self._m2 += (x - old) * (x - mean + old - self._mean)
        self._mean = mean
        self._scale = max(self._scale, self._m2)
        if self._m2 < _DRIFT_RATIO * self._scale:
            self._rebuild()

    def _rebuild(self) -> None:
        # Two passes over deviations from the newest value, as the batch does: a window of
        # one repeated value then has M2 exactly 0, and the Welford steps keep it there.
        self._mean = math.fsum(self._window) / self._size
        newest = self._window[-1]
        shifted = [v - newest for v in self._window]
        shifted_mean = math.fsum(shifted) / self._size
        self._m2 = math.fsum((d - shifted_mean) ** 2 for d in shifted)
        self._scale = self._m2
        self._since_exact = 0
