"""`/metrics` over real HTTP: latency by route template, cache layers, stream lag, data age."""

from __future__ import annotations

import time

import httpx
import pytest

from marketpulse_common.publisher import Publisher
from tests.integration.gateway.conftest import RunningGateway, publish_ticker
from tests.integration.gateway.metrics_text import sample

pytestmark = pytest.mark.redis

P = "marketpulse_gateway_"


async def test_metrics_content(
    gateway: RunningGateway, http: httpx.AsyncClient, publisher: Publisher
) -> None:
    """After reads and events, every family the operators rely on is there with sane values."""
    asset = gateway.asset
    await publish_ticker(publisher, asset, 1.0)
    for _ in range(3):
        await http.get(f"/v1/assets/{asset}/ticker")
    await http.get("/v2/nothing")
    await publish_ticker(publisher, asset, 2.0)  # read by the stream reader: a lag sample

    async def scrape() -> str:
        response = await http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    deadline = time.monotonic() + 10
    while not sample(text := await scrape(), P + "stream_lag_seconds_count"):
        assert time.monotonic() < deadline, "the stream reader never read the event"
    ticker = {"route": "/v1/assets/{asset}/ticker", "method": "GET", "status": "200"}
    assert sample(text, P + "request_duration_seconds_count", ticker) == 3
    assert sample(text, P + "request_duration_seconds_bucket", {**ticker, "le": "0.1"}) == 3
    unmatched = {"route": "unmatched", "status": "404"}
    assert sample(text, P + "request_duration_seconds_count", unmatched) == 1
    hits = sample(text, P + "cache_hits_total", {"layer": "l1"}) or 0
    l2 = sample(text, P + "cache_hits_total", {"layer": "l2"}) or 0
    assert hits + l2 == 3
    assert (sample(text, P + "stream_lag_seconds_count") or 0) >= 1
    age = sample(text, P + "data_age_seconds", {"asset": asset, "channel": "ticker"})
    assert age is not None and 0 <= age < 60
    assert sample(text, P + "data_stale", {"asset": asset, "channel": "ticker"}) == 0
    assert sample(text, P + "redis_up") == 1
    assert sample(text, P + "ws_connections") == 0
    assert sample(text, P + "ws_messages_sent_total") is not None
    assert "# TYPE marketpulse_gateway_ws_clients_dropped_total counter" in text
