"""The full indicator set over one candle window, and the parameters that shape it.

Keys name the indicator and its period where it has one (`ema_12`, `rsi_14`, `atr_14`,
`volatility_20`, `vwap_20`); MACD and Bollinger keys stay fixed (`macd`, `bb_upper`, …)
and their periods travel in `params`. `obv` and `vwap_<n>` exist only when volume does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketpulse_compute import indicators as ind


@dataclass(frozen=True, slots=True)
class IndicatorParams:
    ema_periods: tuple[int, ...] = (12, 26, 50)
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_num_std: float = 2.0
    atr_period: int = 14
    volatility_period: int = 20
    vwap_period: int = 20

    def __post_init__(self) -> None:
        # Building the lookbacks validates every period; duplicates would collide as keys.
        indicator_lookbacks(self, with_volume=True)
        if len(set(self.ema_periods)) != len(self.ema_periods):
            raise ValueError(f"ema_periods must be distinct, got {self.ema_periods}")
        if not (math.isfinite(self.bb_num_std) and self.bb_num_std >= 0.0):
            raise ValueError(f"bb_num_std must be finite and >= 0, got {self.bb_num_std}")

    def as_flat_dict(self) -> dict[str, float]:
        """Every parameter as name -> number; EMA periods as ema_period_0, ema_period_1, …"""
        flat = {f"ema_period_{i}": float(p) for i, p in enumerate(self.ema_periods)}
        flat.update(
            rsi_period=self.rsi_period,
            macd_fast=self.macd_fast,
            macd_slow=self.macd_slow,
            macd_signal=self.macd_signal,
            bb_period=self.bb_period,
            bb_num_std=self.bb_num_std,
            atr_period=self.atr_period,
            volatility_period=self.volatility_period,
            vwap_period=self.vwap_period,
        )
        return {name: float(value) for name, value in flat.items()}


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    """Latest value per indicator (None inside its lookback or when undefined)."""

    values: dict[str, float | None]
    lookback: dict[str, int]
    params: dict[str, float]
    candle_count: int


def indicator_lookbacks(params: IndicatorParams, with_volume: bool) -> dict[str, int]:
    """Lookback per output key, in the order the set reports them."""
    lookbacks = {f"ema_{p}": ind.ema_lookback(p) for p in params.ema_periods}
    lookbacks[f"rsi_{params.rsi_period}"] = ind.rsi_lookback(params.rsi_period)
    macd = ind.macd_lookback(params.macd_fast, params.macd_slow, params.macd_signal)
    lookbacks.update(macd=macd, macd_signal=macd, macd_hist=macd)
    bands = ind.bollinger_lookback(params.bb_period)
    lookbacks.update(bb_upper=bands, bb_middle=bands, bb_lower=bands)
    lookbacks[f"atr_{params.atr_period}"] = ind.atr_lookback(params.atr_period)
    volatility = ind.volatility_lookback(params.volatility_period)
    lookbacks[f"volatility_{params.volatility_period}"] = volatility
    if with_volume:
        lookbacks["obv"] = ind.obv_lookback()
        lookbacks[f"vwap_{params.vwap_period}"] = ind.vwap_lookback(params.vwap_period)
    return lookbacks


def compute_indicator_series(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike | None,
    params: IndicatorParams,
) -> dict[str, ind.FloatArray]:
    """Every indicator of the set as a full-length series (NaN inside its lookback)."""
    p = params
    series = {f"ema_{n}": ind.ema(close, n) for n in p.ema_periods}
    series[f"rsi_{p.rsi_period}"] = ind.rsi(close, p.rsi_period)
    lines = ind.macd(close, p.macd_fast, p.macd_slow, p.macd_signal)
    series.update(macd=lines.macd, macd_signal=lines.signal, macd_hist=lines.hist)
    bands = ind.bollinger(close, p.bb_period, p.bb_num_std)
    series.update(bb_upper=bands.upper, bb_middle=bands.middle, bb_lower=bands.lower)
    series[f"atr_{p.atr_period}"] = ind.atr(high, low, close, p.atr_period)
    series[f"volatility_{p.volatility_period}"] = ind.realized_volatility(
        close, p.volatility_period
    )
    if volume is not None:
        series["obv"] = ind.obv(close, volume)
        series[f"vwap_{p.vwap_period}"] = ind.rolling_vwap(high, low, close, volume, p.vwap_period)
    return series


def compute_indicator_set(
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike | None,
    params: IndicatorParams | None = None,
) -> IndicatorResult:
    """Latest values of the full set over one window of candles, oldest first.

    `open_` is taken so a caller can pass a candle window's columns as they are; it is
    checked for length but no indicator of the set reads it.
    """
    params = params or IndicatorParams()
    columns = [open_, high, low, close] + ([] if volume is None else [volume])
    sizes = {np.asarray(column).shape for column in columns}
    if len(sizes) != 1:
        raise ValueError(f"OHLCV columns differ in shape: {sorted(sizes)}")
    series = compute_indicator_series(high, low, close, volume, params)
    return IndicatorResult(
        values={name: latest(values) for name, values in series.items()},
        lookback=indicator_lookbacks(params, with_volume=volume is not None),
        params=params.as_flat_dict(),
        candle_count=np.asarray(close).shape[0],
    )


def latest(values: ind.FloatArray) -> float | None:
    """The last value as a plain float; None when there is none or it is not finite.

    Events reject NaN and infinity, so "no value" has to be None at this boundary.
    """
    if values.size == 0:
        return None
    last = float(values[-1])
    return last if math.isfinite(last) else None
