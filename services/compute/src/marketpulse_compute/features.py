"""The forecaster's inputs: indicator-derived features, one row per candle, no I/O.

Every feature at row j is computed from candles 0..j only (returns, EMAs, Wilder averages
and rolling windows all look backwards), so a row never sees the future. Rows inside a
feature's lookback are NaN and are never used for fitting.

Features are scale-free twice over. Across assets: ratios, returns and oscillators, so one
model shape suits every asset. Across volatility regimes: every price move (returns, the
MACD histogram, the EMA gaps) is measured in units of the trailing `scale_period` realised
volatility, and the volatility features are short-over-long ratios, not levels. Volatility
clusters (a calm week, then a busy one); a model that read raw moves or volatility levels
would see its inputs' distribution change with every cluster, and so would drift
monitoring, which then alerted on most evaluations of the simulated market.

Each feature also declares its `memory`: roughly how many candles apart two of its values
must be to carry independent information on a random walk (n for an n-candle return or an
EMA(n) gap, about 2n for Wilder's smoothing). Drift monitoring needs it to tell a shift
from the ordinary wandering of a slow feature (drift.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from marketpulse_compute import indicators as ind
from marketpulse_compute.window import Columns

FloatArray = npt.NDArray[np.float64]

# A short-window volatility this many times below the long one is "as quiet as it gets":
# it keeps the log ratio finite when the short window saw no movement at all.
_RATIO_FLOOR = 1e-3


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
    # The long window: price moves are measured in its realised volatility and the short
    # ATR and volatility are compared with it. 50 candles matches the slowest EMA, so it
    # adds no lookback, and still follows a volatility cluster within a couple of days (1h).
    scale_period: int = 50
    volume_period: int = 20

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """`values[j, k]` is feature `keys[k]` at candle j; `names` are for people; `memory[k]`
    is the feature's memory in candles (see the module docstring)."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    memory: tuple[float, ...]
    values: FloatArray

    def complete_rows(self) -> npt.NDArray[np.bool_]:
        """Rows where every feature is defined (past every lookback)."""
        return np.asarray(np.isfinite(self.values).all(axis=1), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    name: str
    memory: float
    compute: Callable[[Columns, FloatArray], FloatArray]  # (candles, volatility scale)


def build_features(cols: Columns, params: FeatureParams | None = None) -> FeatureMatrix:
    """The feature matrix of a candle history; volume z-score only when volume exists."""
    p = params or FeatureParams()
    specs = _specs(p, with_volume=cols.volume is not None)
    scale = ind.realized_volatility(cols.close, p.scale_period)
    return FeatureMatrix(
        keys=tuple(s.key for s in specs),
        names=tuple(s.name for s in specs),
        memory=tuple(s.memory for s in specs),
        values=np.column_stack([s.compute(cols, scale) for s in specs]),
    )


def feature_keys(params: FeatureParams, with_volume: bool) -> list[str]:
    """The keys `build_features` produces, without building anything."""
    return [s.key for s in _specs(params, with_volume)]


def log_return(close: FloatArray, span: int) -> FloatArray:
    """log(close[j] / close[j - span]); NaN for the first `span` rows."""
    out = np.full(close.size, np.nan)
    if close.size > span:
        out[span:] = np.log(close[span:] / close[:-span])
    return out


def in_volatilities(move: FloatArray, scale: FloatArray) -> FloatArray:
    """`move / scale`; 0 where the market has not moved at all (scale 0), NaN where unknown."""
    out = np.full(move.size, np.nan)
    known = np.isfinite(move) & np.isfinite(scale)
    np.divide(move, scale, out=out, where=known & (scale > 0))
    out[known & (scale <= 0)] = 0.0
    return out


def log_ratio(short: FloatArray, long: FloatArray) -> FloatArray:
    """log(short / long), floored; 0 (as usual) where the long window saw no movement."""
    out = np.full(short.size, np.nan)
    known = np.isfinite(short) & np.isfinite(long)
    moving = known & (long > 0)
    ratio = np.divide(short, long, out=np.ones_like(short), where=moving)
    out[moving] = np.log(np.maximum(ratio[moving], _RATIO_FLOOR))
    out[known & ~moving] = 0.0
    return out


def volume_zscore(volume: FloatArray, period: int) -> FloatArray:
    """z of log(1 + volume) within its trailing `period` window (0 for a flat window).

    Logs because volume is heavy-tailed: one spike would otherwise set the scale for days.
    """
    out = np.full(volume.size, np.nan)
    if volume.size >= period:
        windows = np.lib.stride_tricks.sliding_window_view(np.log1p(volume), period)
        # Taken about each window's last value, so a flat window is exactly 0 (a raw mean of
        # equal floats need not round back to that float, and its z was then ±1).
        deviation = windows - windows[:, -1:]
        mean = deviation.mean(axis=1)
        std = np.sqrt(((deviation - mean[:, np.newaxis]) ** 2).mean(axis=1))
        out[period - 1 :] = np.divide(-mean, std, out=np.zeros_like(std), where=std > 0)
    return out


def _specs(p: FeatureParams, with_volume: bool) -> list[_Spec]:
    specs = [_return_spec(n) for n in p.return_spans] + _trend_specs(p) + _volatility_specs(p)
    if with_volume:
        name = f"Volume vs its {p.volume_period}-candle norm (z)"
        # The window's own mean and deviation leave consecutive z-scores nearly independent.
        specs.append(_Spec("volume_z", name, 1.0, lambda c, _: _volume_z(c, p.volume_period)))
    return specs


def _return_spec(span: int) -> _Spec:
    name = "Return of the last candle" if span == 1 else f"Return of the last {span} candles"
    return _Spec(
        f"ret_{span}",
        f"{name}, in volatilities",
        float(span),  # overlapping n-candle returns share all but one of their candles
        lambda c, scale: in_volatilities(log_return(c.close, span), scale * np.sqrt(span)),
    )


def _trend_specs(p: FeatureParams) -> list[_Spec]:
    macd = f"MACD({p.macd_fast},{p.macd_slow},{p.macd_signal}) histogram, in volatilities"
    return [
        # Wilder's smoothing keeps (n - 1) / n of its past each candle: memory ~2n.
        _Spec(
            f"rsi_{p.rsi_period}",
            f"RSI({p.rsi_period}) minus 50",
            2.0 * p.rsi_period,
            lambda c, _: ind.rsi(c.close, p.rsi_period) - 50,
        ),
        _Spec("macd_hist", macd, float(p.macd_signal), lambda c, s: _macd_hist(c, p, s)),
        _gap_spec(p.ema_fast),
        _gap_spec(p.ema_slow),
        # Where the close sits in a window of n closes changes over ~3n/4 candles.
        _Spec(
            "bb_pct_b",
            f"Bollinger({p.bb_period}) %b",
            0.75 * p.bb_period,
            lambda c, _: _percent_b(c.close, p),
        ),
    ]


def _gap_spec(period: int) -> _Spec:
    return _Spec(
        f"ema_{period}_gap",
        f"Price vs EMA({period}), in volatilities",
        float(period),  # the gap decays like the EMA itself: memory ~n
        lambda c, scale: in_volatilities(c.close / ind.ema(c.close, period) - 1.0, scale),
    )


def _volatility_specs(p: FeatureParams) -> list[_Spec]:
    atr, vol, long = p.atr_period, p.volatility_period, p.scale_period
    return [
        _Spec(
            f"atr_{atr}_{long}",
            f"ATR({atr}) vs ATR({long}) (log ratio)",
            2.0 * atr,  # Wilder-smoothed, like the RSI
            lambda c, _: log_ratio(
                ind.atr(c.high, c.low, c.close, atr), ind.atr(c.high, c.low, c.close, long)
            ),
        ),
        _Spec(
            f"volatility_{vol}_{long}",
            f"Realised volatility, {vol} vs {long} candles (log ratio)",
            float(vol),  # a window of n squared returns
            lambda c, scale: log_ratio(ind.realized_volatility(c.close, vol), scale),
        ),
    ]


def _macd_hist(cols: Columns, p: FeatureParams, scale: FloatArray) -> FloatArray:
    hist = ind.macd(cols.close, p.macd_fast, p.macd_slow, p.macd_signal).hist
    return in_volatilities(hist / cols.close, scale)


def _volume_z(cols: Columns, period: int) -> FloatArray:
    assert cols.volume is not None  # only specified when there is volume
    return volume_zscore(cols.volume, period)


def _percent_b(close: FloatArray, p: FeatureParams) -> FloatArray:
    """Where the close sits in the bands: 0 at the lower, 1 at the upper, 0.5 when flat."""
    bands = ind.bollinger(close, p.bb_period, p.bb_num_std)
    width = bands.upper - bands.lower
    flat = np.full_like(close, 0.5)
    flat[~np.isfinite(width)] = np.nan
    return np.divide(close - bands.lower, width, out=flat, where=width > 0)
