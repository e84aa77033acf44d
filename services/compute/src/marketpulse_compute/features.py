"""The forecaster's inputs: indicator-derived features, one row per candle, no I/O.

Every feature at row j is computed from candles 0..j only (returns, EMAs, Wilder averages
and rolling windows all look backwards), so a row never sees the future. Features are
scale-free (ratios to price, returns, centred oscillators) so one model shape suits every
asset. Rows inside a feature's lookback are NaN and are never used for fitting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from marketpulse_compute import indicators as ind
from marketpulse_compute.window import Columns

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FeatureParams:
    return_spans: tuple[int, ...] = (1, 3, 12)
    rsi_period: int = 14
    ema_fast: int = 12
    ema_slow: int = 50
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_num_std: float = 2.0
    atr_period: int = 14
    volatility_period: int = 20
    volume_period: int = 20

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """`values[j, k]` is feature `keys[k]` at candle j; `names` are for people."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    values: FloatArray

    def complete_rows(self) -> npt.NDArray[np.bool_]:
        """Rows where every feature is defined (past every lookback)."""
        return np.asarray(np.isfinite(self.values).all(axis=1), dtype=np.bool_)


def build_features(cols: Columns, params: FeatureParams | None = None) -> FeatureMatrix:
    """The feature matrix of a candle history; volume z-score only when volume exists."""
    p = params or FeatureParams()
    close, high, low = cols.close, cols.high, cols.low
    columns: list[tuple[str, str, FloatArray]] = [
        (f"ret_{n}", _return_name(n), log_return(close, n)) for n in p.return_spans
    ]
    columns += [
        (f"rsi_{p.rsi_period}", f"RSI({p.rsi_period}) minus 50", ind.rsi(close, p.rsi_period) - 50),
        (
            "macd_hist",
            f"MACD({p.macd_fast},{p.macd_slow},{p.macd_signal}) histogram / price",
            ind.macd(close, p.macd_fast, p.macd_slow, p.macd_signal).hist / close,
        ),
        (f"ema_{p.ema_fast}_gap", f"Price vs EMA({p.ema_fast})", _gap(close, p.ema_fast)),
        (f"ema_{p.ema_slow}_gap", f"Price vs EMA({p.ema_slow})", _gap(close, p.ema_slow)),
        ("bb_pct_b", f"Bollinger({p.bb_period}) %b", _percent_b(close, p)),
        (
            f"atr_{p.atr_period}",
            f"ATR({p.atr_period}) / price",
            ind.atr(high, low, close, p.atr_period) / close,
        ),
        (
            f"volatility_{p.volatility_period}",
            f"Realised volatility ({p.volatility_period} candles)",
            ind.realized_volatility(close, p.volatility_period),
        ),
    ]
    if cols.volume is not None:
        name = f"Volume vs its {p.volume_period}-candle norm (z)"
        columns.append(("volume_z", name, volume_zscore(cols.volume, p.volume_period)))
    keys, names, series = zip(*columns, strict=True)
    return FeatureMatrix(keys=keys, names=names, values=np.column_stack(series))


def feature_keys(params: FeatureParams, with_volume: bool) -> list[str]:
    """The keys `build_features` produces, without building anything (for model versions)."""
    keys = [f"ret_{n}" for n in params.return_spans]
    keys += [f"rsi_{params.rsi_period}", "macd_hist"]
    keys += [f"ema_{params.ema_fast}_gap", f"ema_{params.ema_slow}_gap", "bb_pct_b"]
    keys += [f"atr_{params.atr_period}", f"volatility_{params.volatility_period}"]
    return keys + (["volume_z"] if with_volume else [])


def log_return(close: FloatArray, span: int) -> FloatArray:
    """log(close[j] / close[j - span]); NaN for the first `span` rows."""
    out = np.full(close.size, np.nan)
    if close.size > span:
        out[span:] = np.log(close[span:] / close[:-span])
    return out


def volume_zscore(volume: FloatArray, period: int) -> FloatArray:
    """z of log(1 + volume) within its trailing `period` window (0 for a flat window).

    Logs because volume is heavy-tailed: one spike would otherwise set the scale for days.
    """
    out = np.full(volume.size, np.nan)
    if volume.size >= period:
        logs = np.log1p(volume)
        windows = np.lib.stride_tricks.sliding_window_view(logs, period)
        mean = windows.mean(axis=1)
        std = windows.std(axis=1)
        z = np.divide(logs[period - 1 :] - mean, std, out=np.zeros_like(std), where=std > 0)
        out[period - 1 :] = z
    return out


def _return_name(span: int) -> str:
    return "Return of the last candle" if span == 1 else f"Return of the last {span} candles"


def _gap(close: FloatArray, period: int) -> FloatArray:
    result: FloatArray = close / ind.ema(close, period) - 1.0
    return result


def _percent_b(close: FloatArray, p: FeatureParams) -> FloatArray:
    """Where the close sits in the bands: 0 at the lower, 1 at the upper, 0.5 when flat."""
    bands = ind.bollinger(close, p.bb_period, p.bb_num_std)
    width = bands.upper - bands.lower
    flat = np.full_like(close, 0.5)
    flat[~np.isfinite(width)] = np.nan
    return np.divide(close - bands.lower, width, out=flat, where=width > 0)
