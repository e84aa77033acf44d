"""Prometheus metrics for the worker services.

The gateway serves its own registry on `/metrics`. A worker exposes its metrics on
`MP_METRICS_PORT` when that is set (off by default: a worker has no HTTP surface unless an
operator asks for one). Metric names are prefixed `marketpulse_`.
"""

from __future__ import annotations

from prometheus_client import start_http_server

from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings

log = get_logger(__name__)

# Buckets of every lag histogram (ingest → stored, stored → computed, publish → WebSocket send):
# milliseconds when healthy, seconds after an outage or a backlog, minutes when stuck.
LAG_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0,
)  # fmt: skip


def start_metrics_endpoint(settings: Settings, service: str) -> None:
    """Serve the default registry on MP_METRICS_HOST:MP_METRICS_PORT, when a port is set."""
    if settings.metrics_port is None:
        return
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics endpoint started", service=service, port=settings.metrics_port)
