"""The indicator values of one timeframe, picked out by name and checked for sense.

Compute names its values `ema_<n>`, `rsi_<n>`, `macd`, `macd_signal`, `macd_hist`,
`atr_<n>`, `volatility_<n>` (per-bar deviation of log returns), … (see its indicator_set).
Anything missing, non-finite or out of its domain (an RSI of 140, a negative volatility,
a non-positive EMA) reads as "not known" rather than being trusted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from marketpulse_common.timeframes import Timeframe

_EMA = re.compile(r"^ema_(\d+)$")
_RSI = re.compile(r"^rsi_(\d+)$")
_VOLATILITY = re.compile(r"^volatility_(\d+)$")


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """What the heuristic reads from one timeframe; None means not known."""

    tf: Timeframe
    emas: tuple[float, ...]  # by period, fastest first
    rsi: float | None
    macd: float | None
    macd_hist: float | None
    volatility: float | None  # per-bar deviation of log returns


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _by_period(values: Mapping[str, float | None], pattern: re.Pattern[str]) -> list[float]:
    found: list[tuple[int, float]] = []
    for name, value in values.items():
        match = pattern.match(name)
        if match and (number := finite(value)) is not None:
            found.append((int(match.group(1)), number))
    return [value for _, value in sorted(found)]


def _first_in(values: list[float], low: float, high: float) -> float | None:
    return next((v for v in values if low <= v <= high), None)


def _macd_hist(values: Mapping[str, float | None]) -> float | None:
    hist = finite(values.get("macd_hist"))
    if hist is not None:
        return hist
    line, signal = finite(values.get("macd")), finite(values.get("macd_signal"))
    if line is None or signal is None:
        return None
    return finite(line - signal)


def read_frame(tf: Timeframe, values: Mapping[str, float | None]) -> FrameSignals:
    """Pick the heuristic's signals out of one timeframe's indicator values."""
    return FrameSignals(
        tf=tf,
        emas=tuple(v for v in _by_period(values, _EMA) if v > 0),
        rsi=_first_in(_by_period(values, _RSI), 0.0, 100.0),
        macd=finite(values.get("macd")),
        macd_hist=_macd_hist(values),
        volatility=_first_in(_by_period(values, _VOLATILITY), 0.0, math.inf),
    )
