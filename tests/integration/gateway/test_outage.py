"""Redis going away while clients read: last-known-good marked stale, no 5xx, self-recovery."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer, free_port
from marketpulse_gateway.runtime import Tuning
from tests.integration.gateway.conftest import (
    next_frame,
    publish_ticker,
    running_gateway,
    store_candles,
    wait_until,
    ws_client,
)
from tests.integration.gateway.factories import forecast

pytestmark = pytest.mark.redis


class Readers:
    """Clients reading a set of URLs in a loop, recording every status and stale flag."""

    def __init__(self, http: httpx.AsyncClient, urls: list[str]) -> None:
        self.http = http
        self.urls = urls
        self.statuses: Counter[int] = Counter()
        self.stale: Counter[bool] = Counter()
        self.errors: list[str] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, clients: int) -> None:
        self._tasks = [asyncio.create_task(self._read()) for _ in range(clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _read(self) -> None:
        while not self._stop.is_set():
            for url in self.urls:
                response = await self.http.get(url)
                self.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    self.errors.append(f"{url}: {response.status_code} {response.text[:200]}")
                else:
                    self.stale[response.json()["meta"]["stale"]] += 1
            await asyncio.sleep(0.01)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


async def readiness_is(http: httpx.AsyncClient, state: str) -> bool:
    response = await http.get("/readyz")
    return response.status_code == 200 and response.json()["state"] == state


async def test_redis_killed_and_restarted_while_clients_read(
    redis_server: RedisServer, unique: str
) -> None:
    """Through an outage every read is answered from memory, marked stale; then it recovers."""
    redis = create_redis(redis_server.url, client_name="pytest")
    publisher = Publisher(redis)
    asset = unique
    try:
        await publish_ticker(publisher, asset, 1.0)
        await publisher.publish(
            Channel(ChannelKind.FORECAST, asset, Timeframe.H1), forecast(asset, Timeframe.H1)
        )
        await store_candles(redis, publisher, asset, Timeframe.H1, [3600 * n for n in range(5)])
        urls = [
            f"/v1/assets/{asset}/ticker",
            f"/v1/assets/{asset}/forecast?tf=1h",
            f"/v1/assets/{asset}/candles?tf=1h&limit=3",
            f"/v1/assets/{asset}/snapshot?tf=1h",
            "/v1/assets",
        ]
        async with (
            running_gateway(redis_server.url, asset) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http,
        ):
            for url in urls:  # warm: everything has been read once
                assert (await http.get(url)).status_code == 200, url
            readers = Readers(http, urls)
            readers.start(clients=4)

            await asyncio.to_thread(redis_server.stop)

            await eventually(lambda: readiness_is(http, "degraded"))
            await wait_until(lambda: readers.stale[True] > 20, timeout=20)
            body = (await http.get(f"/v1/assets/{asset}/ticker")).json()
            assert (body["data"]["price"], body["meta"]["stale"]) == (1.0, True)
            assert (await http.get("/readyz")).json()["redis"]["reachable"] is False
            assert (await http.get("/healthz")).status_code == 200

            await asyncio.to_thread(redis_server.start)
            await publish_ticker(publisher, asset, 2.0)

            async def recovered() -> bool:
                body = (await http.get(f"/v1/assets/{asset}/ticker")).json()
                return body["data"]["price"] == 2.0 and body["meta"]["stale"] is False

            await eventually(recovered)
            await eventually(lambda: readiness_is(http, "ready"))
            await readers.stop()
    finally:
        await redis.aclose()
    assert readers.errors == []
    assert readers.statuses.keys() == {200}
    assert readers.stale[True] > 0 and readers.stale[False] > 0


async def test_stream_recovers_after_redis_restart(redis_server: RedisServer, unique: str) -> None:
    """A WebSocket subscription keeps its connection through an outage and resumes deltas."""
    redis = create_redis(redis_server.url, client_name="pytest")
    publisher = Publisher(redis)
    try:
        async with running_gateway(redis_server.url, unique) as gateway, ws_client(gateway) as ws:
            await publish_ticker(publisher, unique, 1.0)
            await ws.send(f'{{"op": "subscribe", "channels": ["ticker:{unique}"]}}')
            await next_frame(ws)
            await next_frame(ws)
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)
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
        assert response.headers["content-type"] == "application/problem+json"
        assert "retry-after" in response.headers
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["stream_reader"] is False
        assert ready.json()["state"] == "unready"
    assert time.monotonic() - started < 10
