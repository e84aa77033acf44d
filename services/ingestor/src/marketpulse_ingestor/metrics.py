"""The ingestor's Prometheus metrics (served when MP_METRICS_PORT is set).

Per replica; the shared budget's totals across replicas are in the status record.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from marketpulse_common.metrics import LAG_BUCKETS

UPSTREAM_CALLS = Counter(
    "marketpulse_upstream_calls_total",
    "Upstream calls this replica made, by endpoint path template and outcome "
    "(ok, rate_limited, server_error, timeout, transport, malformed, client_error).",
    ["endpoint", "outcome"],
)

INGEST_TO_STORED = Histogram(
    "marketpulse_ingestor_ingest_to_stored_seconds",
    "From the start of an upstream call to its values written in Redis, by kind (ticker: "
    "published to its channel; candles: written to the candle cache).",
    ["kind"],
    buckets=LAG_BUCKETS,
)
