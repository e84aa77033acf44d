"""What the gateway serves from what the ingestor cached: last-known-good through an upstream
outage, marked stale with a growing age; fresh again right after; reads never call upstream.

The outage is real (the fake CoinGecko answers 503), its length is not: the ingestor's and
the gateway's clocks are moved twenty minutes on together, as if the outage had lasted that
long, because the gateway's staleness thresholds (15 min for a ticker) have no setting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind, status_key
from marketpulse_common.publisher import read_snapshot
from marketpulse_dev.embedded_redis import RedisServer
from tests.coingecko_server import faults
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.gateway_rig import MovableClock, running_gateway
from tests.integration.ingestor.harness import cg_settings, running_coingecko
from tests.waiting import eventually

pytestmark = pytest.mark.redis

TICKER_INTERVAL = 1.0


async def get(http: httpx.AsyncClient, path: str) -> tuple[int, Any]:
    response = await http.get(path)
    return response.status_code, response.json()


async def test_an_outage_serves_last_known_good_marked_stale_then_fresh_after_recovery(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """Down for "20 minutes": the ticker is served unchanged with stale: true and an age that
    grows; within one ticker interval of recovery it is fresh again."""
    clock = MovableClock()
    settings = cg_settings(
        redis_server.url,
        coingecko,
        [unique],
        timeframes=["1h"],
        coingecko_budget_window_s=2.0,
        coingecko_calls_per_minute=30,
        coingecko_ticker_interval_s=TICKER_INTERVAL,
    )
    path = f"/v1/assets/{unique}/ticker"
    async with (
        running_coingecko(settings, "ingestor", wall=clock),
        running_gateway(redis_server.url, [unique], ["1h"], clock) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=5) as http,
    ):

        async def served() -> Any:
            status, body = await get(http, path)
            return body if status == 200 else None

        body = await eventually(served, timeout=15, what="a first ticker")
        assert body["meta"]["stale"] is False and body["meta"]["source"] == "coingecko"

        coingecko.go_down(faults.server_error(503))

        async def circuit_open() -> bool:
            return (await private_redis.hget(status_key("coingecko"), "circuit")) == "open"

        await eventually(circuit_open, timeout=10, what="the ingestor to notice the outage")
        last_good = (await get(http, path))[1]
        clock.advance(20 * 60)
        status, during = await get(http, path)
        assert status == 200
        assert during["data"] == last_good["data"]
        assert during["meta"]["stale"] is True and during["meta"]["age_s"] >= 20 * 60
        clock.advance(60)
        later = (await get(http, path))[1]
        assert later["meta"]["age_s"] >= during["meta"]["age_s"] + 60
        assert later["data"] == last_good["data"]

        coingecko.come_back()
        recovered_at = clock()

        async def fresh() -> Any:
            body = (await get(http, path))[1]
            return body if body["meta"]["stale"] is False else None

        body = await eventually(fresh, timeout=5, interval=0.05, what="a fresh ticker")
        assert clock() - recovered_at <= TICKER_INTERVAL + 0.5
        assert body["meta"]["age_s"] < 2


async def test_a_thousand_gateway_reads_make_no_upstream_call(
    coingecko: FakeCoinGecko, redis_server: RedisServer, private_redis: Redis, unique: str
) -> None:
    """After the ingestor filled the cache, 1,000 reads of every kind reach CoinGecko 0 times."""
    clock = MovableClock()
    settings = cg_settings(
        redis_server.url,
        coingecko,
        [unique],
        timeframes=["1h"],
        coingecko_calls_per_minute=600,
        coingecko_ticker_interval_s=1,
    )
    async with running_coingecko(settings, "ingestor"):
        ticker = Channel(ChannelKind.TICKER, unique)
        await eventually(lambda: read_snapshot(private_redis, ticker), timeout=20, what="tickers")
    calls = len(coingecko.calls)
    paths = [
        f"/v1/assets/{unique}/ticker",
        f"/v1/assets/{unique}/candles?tf=1h&limit=200",
        f"/v1/assets/{unique}/snapshot?tf=1h",
        "/v1/assets",
    ]
    async with (
        running_gateway(redis_server.url, [unique], ["1h"], clock) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        statuses: list[int] = []

        async def reader(k: int) -> None:
            for i in range(50):
                response = await http.get(paths[(k + i) % len(paths)])
                statuses.append(response.status_code)

        started = time.monotonic()
        await asyncio.gather(*(reader(k) for k in range(20)))
    assert len(statuses) == 1000 and set(statuses) == {200}
    assert len(coingecko.calls) == calls
    assert time.monotonic() - started < 60
