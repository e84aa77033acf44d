"""What a sentiment provider may look at, and the hash that says whether it changed.

The input is built from the cache only (ticker, indicator, forecast and evaluation snapshots
of one asset, plus the headlines the news job stored for it) and rounded on the way in, so a
provider sees exactly what was hashed: the stored `input_hash` then names the provider's
whole view, and two inputs that differ only in noise are equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from marketpulse_common.events import Evaluation, Forecast, Indicators, Ticker, hash_inputs
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.forecast_view import ForecastView, view_forecast

# Four significant digits: fine enough that every signal the heuristic reads survives (price
# vs EMA gaps of about a tenth of a percent, RSI to a tenth of a point), coarse enough that
# float noise and sub-0.1 % wiggles between candles do not count as a changed input.
SIGNIFICANT_DIGITS = 4


class SentimentInput(BaseModel):
    """The cached state of one asset as a provider sees it: plain, rounded, finite values."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    asset: str
    price: float | None = None
    change_24h_pct: float | None = None
    indicators: dict[Timeframe, dict[str, float | None]] = {}
    forecasts: dict[Timeframe, ForecastView] = {}
    # Untrusted text from news feeds: only ever shown to a model as delimited data.
    headlines: tuple[str, ...] = ()


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` to `digits` significant digits; values rounding would overflow stay as they are."""
    if not math.isfinite(value) or value == 0.0:
        return value
    rounded = float(f"{value:.{digits}g}")
    # 1.7976e308 rounds up past the largest float; keeping it beats turning it into inf.
    return rounded if math.isfinite(rounded) else value


def _rounded(value: float | None) -> float | None:
    return None if value is None else round_significant(value)


def _by_timeframe(values: Mapping[Timeframe, object]) -> list[Timeframe]:
    return sorted(values, key=lambda tf: tf.seconds)


def build_input(
    asset: str,
    ticker: Ticker | None,
    indicators: Mapping[Timeframe, Indicators],
    forecasts: Mapping[Timeframe, Forecast] | None = None,
    evaluations: Mapping[Timeframe, Evaluation] | None = None,
    headlines: Sequence[str] = (),
) -> SentimentInput:
    """Assemble (and round) a provider's input from the cached snapshots of one asset."""
    forecasts = forecasts or {}
    evaluations = evaluations or {}
    return SentimentInput(
        asset=asset,
        price=_rounded(ticker.price) if ticker else None,
        change_24h_pct=_rounded(ticker.change_24h_pct) if ticker else None,
        indicators={
            tf: {name: _rounded(value) for name, value in indicators[tf].values.items()}
            for tf in _by_timeframe(indicators)
        },
        forecasts={
            tf: view_forecast(forecasts[tf], evaluations.get(tf)) for tf in _by_timeframe(forecasts)
        },
        headlines=tuple(headlines),
    )


def input_hash(inp: SentimentInput, provider: str) -> str:
    """Hash of what was asked of whom: a different provider reads the same input afresh."""
    return hash_inputs({"provider": provider, "input": inp.model_dump(mode="json")})
