"""A ForecastPoint in plain numbers → the Forecast boundary model that is stored and served.

Pure. The record names the candles it was made from (the history up to its origin, with
their hash) and carries the baselines' predictions at the same candle, so scoring it
later needs only the record and the candles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from marketpulse_common.events import (
    BaselineForecast,
    FeatureContribution,
    Forecast,
    ForecastBaselines,
    ForecastExplanation,
    ForecastSource,
    PredictionInterval,
    TrainingWindow,
)
from marketpulse_common.timeframes import Timeframe
from marketpulse_compute.forecaster import Baseline, ForecastConfig, ForecastPoint, History
from marketpulse_compute.window import columns_head, describe_columns


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What every record of one history shares."""

    asset: str
    tf: Timeframe
    config: ForecastConfig
    model_version: str
    computed_at: datetime


def forecast_record(
    history: History, point: ForecastPoint, context: RecordContext, source: ForecastSource
) -> Forecast:
    origin_time = int(history.cols.open_time[point.origin])
    horizon = context.config.horizon
    low, high = point.interval
    return Forecast(
        asset=context.asset,
        tf=context.tf,
        origin=origin_time,
        horizon=horizon,
        resolves_at=origin_time + horizon * context.tf.seconds,
        p_up=point.p_up,
        expected_return=point.expected_return,
        interval=PredictionInterval(level=context.config.interval_level, low=low, high=high),
        volatility=point.volatility,
        model_version=context.model_version,
        explanation=explanation(history, point),
        baselines=ForecastBaselines(
            climatology=_baseline(point.climatology), persistence=_baseline(point.persistence)
        ),
        training=training_window(history, point),
        window=describe_columns(context.tf, columns_head(history.cols, point.origin + 1)),
        source=source,
        computed_at=context.computed_at,
    )


def explanation(history: History, point: ForecastPoint) -> ForecastExplanation:
    """Each feature's coefficient × standardised value, largest effect first."""
    features = history.features
    order = np.argsort(-np.abs(point.contributions), kind="stable")
    contributions = [
        FeatureContribution(
            feature=features.keys[k],
            name=features.names[k],
            value=float(point.raw[k]),
            z=float(point.z[k]),
            coefficient=float(point.fit.model.coef[k]),
            contribution=float(point.contributions[k]),
        )
        for k in order.tolist()
    ]
    return ForecastExplanation(
        intercept=point.fit.model.intercept, logit=point.logit, contributions=contributions
    )


def training_window(history: History, point: ForecastPoint) -> TrainingWindow:
    rows = point.fit.rows
    times = history.cols.open_time
    return TrainingWindow(
        samples=int(rows.size),
        first_origin=int(times[rows[0]]),
        last_origin=int(times[rows[-1]]),
        base_rate=point.fit.base_rate,
    )


def _baseline(baseline: Baseline) -> BaselineForecast:
    return BaselineForecast(p_up=baseline.p_up, expected_return=baseline.expected_return)
