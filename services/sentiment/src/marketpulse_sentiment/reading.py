"""What the heuristic concluded about one asset, before it is put into words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from marketpulse_common.events import SentimentLabel
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.forecast_view import ForecastView
from marketpulse_sentiment.signals import FrameSignals

Regime = Literal["calm", "normal", "high"]


@dataclass(frozen=True, slots=True)
class FrameReading:
    """One timeframe's components; None where its indicators say nothing."""

    signals: FrameSignals
    trend: float | None
    momentum: float | None
    daily_volatility: float | None


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything the heuristic concluded, for the explanation to put into words."""

    asset: str
    frames: tuple[FrameReading, ...]
    trend: float | None
    momentum: float | None
    change: float | None
    change_24h_pct: float | None
    forecast: float | None
    forecasts: tuple[tuple[Timeframe, ForecastView], ...]
    daily_volatility: float | None
    regime: Regime | None
    score: float
    confidence: float
    label: SentimentLabel
