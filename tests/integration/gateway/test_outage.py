"""Redis going away: errors stay 503 problem+json (never 500) and streaming comes back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from marketpulse_common.connection import create_redis
from marketpulse_common.embedded_redis import RedisServer, free_port
from marketpulse_common.publisher import Publisher
from marketpulse_gateway.runtime import Tuning
from tests.integration.gateway.conftest import (
    next_frame,
    publish_ticker,
    running_gateway,
    ws_client,
)

pytestmark = pytest.mark.redis


async def test_redis_outage_and_recovery(redis_server: RedisServer, unique: str) -> None:
    """With Redis down reads are 503 + Retry-After; after a restart deltas flow again."""
    redis = create_redis(redis_server.url, client_name="pytest")
    publisher = Publisher(redis)
    try:
        async with (
            running_gateway(redis_server.url, unique) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http,
            ws_client(gateway) as ws,
        ):
            await publish_ticker(publisher, unique, 1.0)
            await ws.send(f'{{"op": "subscribe", "channels": ["ticker:{unique}"]}}')
            await next_frame(ws)
            await next_frame(ws)

            await asyncio.to_thread(redis_server.stop)
            down = await http.get(f"/v1/assets/{unique}/ticker")
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            assert down.json()["type"] == "urn:marketpulse:problem:store-unavailable"
            assert "retry-after" in down.headers
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["redis"]["reachable"] is False
            assert (await http.get("/healthz")).status_code == 200

            await asyncio.to_thread(redis_server.start)
            assert (await http.get(f"/v1/assets/{unique}/ticker")).status_code == 200
            published = await publish_ticker(publisher, unique, 2.0)
            delta = await next_frame(ws, timeout=15)  # the reader backs off ≤ 5 s, then resumes
            assert (delta["type"], delta["seq"]) == ("delta", published.seq)
    finally:
        await redis.aclose()


async def test_gateway_starts_without_redis(unique: str) -> None:
    """A gateway whose Redis is down still starts, answers 503s and says it is not ready."""
    started = time.monotonic()
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    async with (
        running_gateway(nowhere, unique, Tuning(ready_timeout_s=0.2)) as gateway,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http,
    ):
        response = await http.get(f"/v1/assets/{unique}/ticker")
        assert response.status_code == 503
        assert (await http.get("/readyz")).json()["stream_reader"] is False
    assert time.monotonic() - started < 10
