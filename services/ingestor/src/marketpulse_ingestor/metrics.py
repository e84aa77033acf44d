"""The ingestor's Prometheus metrics (served when MP_METRICS_PORT is set).

Per replica; the shared budget's totals across replicas are in the status record.
"""

from __future__ import annotations

from prometheus_client import Counter

UPSTREAM_CALLS = Counter(
    "marketpulse_upstream_calls_total",
    "Upstream calls this replica made, by endpoint path template and outcome "
    "(ok, rate_limited, server_error, timeout, transport, malformed, client_error).",
    ["endpoint", "outcome"],
)
