"""Compute's Prometheus metrics that are not about drift (drift_monitor.py has those); served
when MP_METRICS_PORT is set."""

from __future__ import annotations

from prometheus_client import Histogram

from marketpulse_common.metrics import LAG_BUCKETS

STORED_TO_COMPUTED = Histogram(
    "marketpulse_compute_stored_to_computed_seconds",
    "From a candle stored and announced by the ingestor (its stream entry's time) to a value "
    "derived from it published, by output (indicators, forecast). A replayed or reclaimed "
    "candle counts from its first announcement.",
    ["output"],
    buckets=LAG_BUCKETS,
)
INDICATORS_LAG = STORED_TO_COMPUTED.labels("indicators")
FORECAST_LAG = STORED_TO_COMPUTED.labels("forecast")
