"""/readyz and /metrics show the ingestor's upstream record, without calling the upstream."""

from __future__ import annotations

import time

import httpx
import pytest

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import status_key
from marketpulse_common.publisher import Publisher
from marketpulse_dev.embedded_redis import RedisServer
from tests.integration.gateway.conftest import publish_ticker, running_gateway

pytestmark = pytest.mark.redis


async def test_a_paused_upstream_degrades_readiness_and_shows_in_metrics(
    redis_server: RedisServer, unique: str
) -> None:
    """A 429 pause in the status record: /readyz stays 200 but degraded, /metrics has gauges."""
    redis = create_redis(redis_server.url)
    try:
        await publish_ticker(Publisher(redis), unique, 3.0)
        record = {
            "source": "coingecko",
            "circuit": "closed",
            "paused_until": repr(time.time() + 600),
            "calls_window": "5",
            "calls_per_window_limit": "5",
            "calls_month": "42",
        }
        await redis.hset(status_key("coingecko"), mapping=record)
        gateway = running_gateway(redis_server.url, unique, source="coingecko")
        async with gateway as gw, httpx.AsyncClient(base_url=gw.base_url) as http:
            ready = await http.get("/readyz")
            metrics = (await http.get("/metrics")).text
    finally:
        await redis.aclose()
    assert ready.status_code == 200
    report = ready.json()
    assert report["state"] == "degraded"
    assert report["upstream"]["calls_month"] == 42
    assert any("429" in reason for reason in report["reasons"])
    assert 'marketpulse_gateway_upstream_calls_month{source="coingecko"} 42.0' in metrics
    assert 'marketpulse_gateway_upstream_calls_window_limit{source="coingecko"} 5.0' in metrics
