"""A window of cached candles, and the Indicators record derived from it.

Pure: takes the cached members and the time as plain values, does no I/O. The record names
exactly which candles it came from (first/last open time, count, a hash of the OHLCV
columns), so anyone holding the same candles can reproduce every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from marketpulse_common.events import Candle, CandleWindow, Indicators, hash_inputs
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.errors import InvalidWindow
from marketpulse_compute.indicator_set import (
    IndicatorParams,
    compute_indicator_set,
    indicator_lookbacks,
)

# Candles per window. EMA, Wilder's RSI/ATR and MACD never quite forget their seed, so a value
# depends a little on where the window starts. 300 is six times the longest default smoothing
# period (EMA 50): the seed's weight in the newest value is (49/51)^250 ≈ 5e-5 for EMA(50)
# and below 1e-9 for the 14- and 26-period ones, far below what a chart shows. It also stays
# under the ingestor's default backfill (500), so the window is full from the first event.
WINDOW_SIZE = 300


class Columns(NamedTuple):
    """The window as arrays, oldest first; `volume` only when every candle has one."""

    open_time: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64] | None


@dataclass(frozen=True, slots=True)
class Window:
    """Closed candles of one timeframe, oldest first, open times strictly increasing."""

    tf: Timeframe
    candles: tuple[Candle, ...]

    @property
    def last(self) -> Candle | None:
        return self.candles[-1] if self.candles else None

    def columns(self) -> Columns:
        candles = self.candles
        # A volume column with holes would make OBV/VWAP quietly wrong: all or nothing.
        volumes = [c.v for c in candles]
        has_volume = bool(candles) and all(v is not None for v in volumes)
        return Columns(
            open_time=np.array([c.t for c in candles], dtype=np.int64),
            open=np.array([c.o for c in candles], dtype=np.float64),
            high=np.array([c.h for c in candles], dtype=np.float64),
            low=np.array([c.l for c in candles], dtype=np.float64),
            close=np.array([c.c for c in candles], dtype=np.float64),
            volume=np.array(volumes, dtype=np.float64) if has_volume else None,
        )

    def describe(self, columns: Columns | None = None) -> CandleWindow:
        return describe_columns(self.tf, self.columns() if columns is None else columns)


def input_hash(columns: Columns) -> str:
    """Hash of exactly the candles a value was computed from (times included, so a gap shows).

    sha256 of the compact JSON `{"c": [...], "h": [...], "l": [...], "o": [...], "t": [...],
    "v": [...] | null}` with sorted keys, first 16 hex digits: reproducible without this code.
    """
    return hash_inputs(
        {
            "t": columns.open_time,
            "o": columns.open,
            "h": columns.high,
            "l": columns.low,
            "c": columns.close,
            "v": columns.volume,
        }
    )


def columns_head(columns: Columns, count: int) -> Columns:
    """The first `count` candles of `columns` (a history as it stood at an earlier candle)."""
    c = columns
    return Columns(
        open_time=c.open_time[:count],
        open=c.open[:count],
        high=c.high[:count],
        low=c.low[:count],
        close=c.close[:count],
        volume=None if c.volume is None else c.volume[:count],
    )


def describe_columns(tf: Timeframe, columns: Columns) -> CandleWindow:
    """The CandleWindow of non-empty columns, without rebuilding their candles."""
    if columns.open_time.size == 0:
        raise InvalidWindow("an empty window describes nothing")
    return CandleWindow(
        tf=tf,
        first_open=int(columns.open_time[0]),
        last_open=int(columns.open_time[-1]),
        count=int(columns.open_time.size),
        input_hash=input_hash(columns),
    )


def window_from_members(tf: Timeframe, members: Sequence[str]) -> Window:
    """Validate cached candle JSON (oldest first) into a Window; InvalidWindow if unusable."""
    candles: list[Candle] = []
    for member in members:
        try:
            candle = Candle.model_validate_json(member)
        except ValidationError as e:
            raise InvalidWindow(f"cached {tf} candle is malformed: {e.error_count()} errors") from e
        if candles and candle.t <= candles[-1].t:
            # Two members for one open time: the cache contradicts itself, pick neither.
            raise InvalidWindow(f"cached {tf} candles out of order at t={candle.t}")
        candles.append(candle)
    return Window(tf=tf, candles=tuple(candles))


def check_window_size(params: IndicatorParams, size: int) -> None:
    """Refuse a window that could never get past the longest lookback (all values None)."""
    longest = max(indicator_lookbacks(params, with_volume=True).values())
    if size <= longest:
        raise ValueError(f"window of {size} candles cannot cover a lookback of {longest}")


def indicators_for_window(
    asset: str, window: Window, params: IndicatorParams, computed_at: datetime
) -> Indicators:
    """The Indicators record of `window`: latest values, lookbacks, params and provenance."""
    cols = window.columns()
    result = compute_indicator_set(cols.open, cols.high, cols.low, cols.close, cols.volume, params)
    return Indicators(
        asset=asset,
        tf=window.tf,
        window=window.describe(cols),
        params=result.params,
        lookback=result.lookback,
        values=result.values,
        computed_at=computed_at,
    )
