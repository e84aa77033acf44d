"""The deterministic, rule-based reading of one asset: no I/O, no randomness, no clock.

Every component is a number in [-1, 1] (positive = bullish), computed per timeframe and
averaged over the timeframes that have it:

- trend: price vs each EMA, tanh(gap / 2 %) — 2 % above an EMA is clearly above it — averaged
  with the EMA alignment, +1 / -1 per consecutive pair (fast vs slower EMA) that is stacked
  bullishly / bearishly by more than 0.1 %, 0 when they sit together;
- momentum: RSI as (RSI - 50) / 20 clamped, so 70 reads +1 and 30 reads -1, averaged with
  MACD as the mean of sign(histogram) (above / below its signal) and sign(MACD) (fast EMA
  above / below the slow one);
- 24 h change: tanh(change % / 5), so a 5 % day reads about ±0.76;
- forecast: compute's P(up) as tanh((P(up) - 0.5) / 0.1), so 0.6 reads +0.76, scaled by how
  far its record earns trust: 1 when its scored forecasts beat the base rate, 0.5 while
  unproven (no better, too few scored, no evaluation yet), left out when it does worse;
  halved again while its features drift (`alert`).

score = the weighted mean of the components present (trend 0.40, momentum 0.30, 24 h change
0.15, forecast 0.15: the slower the evidence, the more it counts, and a model's opinion no
more than the day's move). label = bullish when score >= 0.2, bearish when <= -0.2, else
neutral.

confidence = coverage × (0.4 + 0.3 × agreement + 0.3 × |score|) × volatility factor, where
coverage is the weight of the components present, agreement is |Σ w·c| / Σ w·|c| (1 when
they all point the same way, 0 when they cancel; 1 when nothing moves), and the factor is
0.75 in a high-volatility regime (a daily-equivalent volatility above 5 %; below 1.5 % is
calm), because readings whipsaw there. Rules never reach certainty: a strong, unanimous
reading with every component present scores about 0.9.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import datetime
from statistics import fmean

from marketpulse_common.events import Sentiment, SentimentLabel, SkillVerdict
from marketpulse_sentiment.explanation import describe
from marketpulse_sentiment.forecast_view import ForecastView
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.reading import FrameReading, Reading, Regime
from marketpulse_sentiment.signals import FrameSignals, finite, read_frame

PROVIDER = "heuristic"

TREND_GAP_SCALE = 0.02
EMA_FLAT_BAND = 0.001
RSI_SPAN = 20.0
CHANGE_SCALE_PCT = 5.0
FORECAST_SPAN = 0.1
WEIGHTS = {"trend": 0.40, "momentum": 0.30, "change": 0.15, "forecast": 0.15}
FORECAST_TRUST: dict[SkillVerdict | None, float] = {
    "beats": 1.0,
    "no better": 0.5,
    "insufficient data": 0.5,
    None: 0.5,
    "worse": 0.0,
}
DRIFT_ALERT_TRUST = 0.5
LABEL_THRESHOLD = 0.2
# Daily-equivalent volatility bands: for large caps a 2-4 % daily move is ordinary.
CALM_DAILY_VOL = 0.015
HIGH_DAILY_VOL = 0.05
HIGH_VOL_CONFIDENCE_FACTOR = 0.75
_DAY_S = 86_400


def clamp(value: float, low: float = -1.0, high: float = 1.0) -> float:
    """`value` within [low, high]; NaN (from inf - inf and the like) counts as 0."""
    if math.isnan(value):
        return 0.0
    return min(high, max(low, value))


def _sign(value: float, band: float = 0.0) -> int:
    return 1 if value > band else -1 if value < -band else 0


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return clamp(fmean(present)) if present else None


def trend_of(signals: FrameSignals, price: float | None) -> float | None:
    gaps = None
    if price is not None:
        # Clamped before tanh: an absurd gap (inf) must still read as ±1, never NaN.
        gaps = _mean(
            [math.tanh(clamp((price / e - 1) / TREND_GAP_SCALE, -50, 50)) for e in signals.emas]
        )
    pairs = itertools.pairwise(signals.emas)
    stack = [_sign(fast / slow - 1, EMA_FLAT_BAND) for fast, slow in pairs]
    return _mean([gaps, _mean(stack)])


def momentum_of(signals: FrameSignals) -> float | None:
    rsi = None if signals.rsi is None else clamp((signals.rsi - 50) / RSI_SPAN)
    macd_signs = [_sign(v) for v in (signals.macd_hist, signals.macd) if v is not None]
    return _mean([rsi, _mean(macd_signs)])


def daily_volatility_of(signals: FrameSignals) -> float | None:
    if signals.volatility is None:
        return None
    return finite(signals.volatility * math.sqrt(_DAY_S / signals.tf.seconds))


def regime_of(daily_volatility: float | None) -> Regime | None:
    if daily_volatility is None:
        return None
    if daily_volatility > HIGH_DAILY_VOL:
        return "high"
    return "calm" if daily_volatility < CALM_DAILY_VOL else "normal"


def read_frames(inp: SentimentInput) -> tuple[FrameReading, ...]:
    price = finite(inp.price) if inp.price is not None and inp.price > 0 else None
    frames = []
    for tf, values in sorted(inp.indicators.items(), key=lambda item: item[0].seconds):
        signals = read_frame(tf, values)
        frames.append(
            FrameReading(
                signals=signals,
                trend=trend_of(signals, price),
                momentum=momentum_of(signals),
                daily_volatility=daily_volatility_of(signals),
            )
        )
    return tuple(frames)


def forecast_lean_of(view: ForecastView) -> float | None:
    """One timeframe's forecast as a component; None when its record earns no trust."""
    trust = FORECAST_TRUST[view.skill]
    if view.drift == "alert":
        trust *= DRIFT_ALERT_TRUST
    if trust == 0.0:
        return None
    return trust * math.tanh((view.p_up - 0.5) / FORECAST_SPAN)


def _overflow_safe_mean(values: Sequence[float | None]) -> float | None:
    # fmean/fsum raise on an intermediate overflow; dividing first keeps huge inputs finite.
    present = [v for v in values if v is not None]
    return sum(v / len(present) for v in present) if present else None


def combine(components: dict[str, float | None]) -> tuple[float, float]:
    """(score, confidence before the volatility factor) from the components present."""
    present = {name: c for name, c in components.items() if c is not None}
    if not present:
        return 0.0, 0.0
    coverage = sum(WEIGHTS[name] for name in present)
    pull = sum(WEIGHTS[name] * c for name, c in present.items())
    spread = sum(WEIGHTS[name] * abs(c) for name, c in present.items())
    agreement = abs(pull) / spread if spread > 1e-9 else 1.0
    score = clamp(pull / coverage)
    confidence = coverage * (0.4 + 0.3 * agreement + 0.3 * abs(score))
    return score, clamp(confidence, 0.0, 1.0)


def label_of(score: float) -> SentimentLabel:
    if score >= LABEL_THRESHOLD:
        return "bullish"
    return "bearish" if score <= -LABEL_THRESHOLD else "neutral"


def read(inp: SentimentInput) -> Reading:
    """Score one asset's input by the rules in this module's docstring."""
    frames = read_frames(inp)
    change_pct = finite(inp.change_24h_pct)
    components = {
        "trend": _mean([f.trend for f in frames]),
        "momentum": _mean([f.momentum for f in frames]),
        "change": None if change_pct is None else math.tanh(change_pct / CHANGE_SCALE_PCT),
        "forecast": _mean([forecast_lean_of(v) for v in inp.forecasts.values()]),
    }
    score, confidence = combine(components)
    daily_vol = _overflow_safe_mean([f.daily_volatility for f in frames])
    regime = regime_of(daily_vol)
    if regime == "high":
        confidence *= HIGH_VOL_CONFIDENCE_FACTOR
    return Reading(
        asset=inp.asset,
        frames=frames,
        trend=components["trend"],
        momentum=components["momentum"],
        change=components["change"],
        change_24h_pct=change_pct,
        forecast=components["forecast"],
        forecasts=tuple(sorted(inp.forecasts.items(), key=lambda item: item[0].seconds)),
        daily_volatility=daily_vol,
        regime=regime,
        score=round(score, 3),
        confidence=round(confidence, 3),
        label=label_of(round(score, 3)),
    )


def assess(inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
    """The heuristic's validated Sentiment for `inp`; the same input always reads the same."""
    reading = read(inp)
    summary, drivers = describe(reading)
    return Sentiment(
        asset=inp.asset,
        label=reading.label,
        score=reading.score,
        confidence=reading.confidence,
        summary=summary,
        drivers=drivers,
        provider=PROVIDER,
        input_hash=input_hash,
        created_at=now,
    )
