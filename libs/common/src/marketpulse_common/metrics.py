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


def start_metrics_endpoint(settings: Settings, service: str) -> None:
    """Serve the default registry on MP_METRICS_HOST:MP_METRICS_PORT, when a port is set."""
    if settings.metrics_port is None:
        return
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics endpoint started", service=service, port=settings.metrics_port)
