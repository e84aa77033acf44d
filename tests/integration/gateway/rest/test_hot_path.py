"""The hot path over real HTTP: same bytes as FastAPI, 304s, refreshed by stream events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Indicators, Sentiment
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_common.timeframes import Timeframe
from tests.integration.gateway.conftest import (
    RunningGateway,
    publish_ticker,
    running_gateway,
    store_candles,
)
from tests.integration.gateway.factories import evaluation, forecast
from tests.integration.gateway.metrics_text import l1_hits

pytestmark = pytest.mark.redis

FROZEN = time.time()


@pytest.fixture
async def frozen(redis_url: str, unique: str) -> AsyncIterator[RunningGateway]:
    """A gateway whose clock stands still, so two renders of a value are byte-identical."""
    async with running_gateway(redis_url, unique, clock=lambda: FROZEN) as running:
        yield running


async def hot_get(http: httpx.AsyncClient, url: str, **kwargs: object) -> httpx.Response:
    """GET `url` and check the hot path answered it (the L1 hit counter moved by one)."""
    before = await l1_hits(http)
    response = await http.get(url, **kwargs)  # type: ignore[arg-type]
    assert await l1_hits(http) == before + 1, f"{url} was not served from L1"
    return response


async def wait_hot(http: httpx.AsyncClient, url: str) -> None:
    """Wait until the stream reader has put the resource into L1."""
    deadline = time.monotonic() + 10
    while True:
        before = await l1_hits(http)
        await http.get(url)
        if await l1_hits(http) > before:
            return
        assert time.monotonic() < deadline, f"{url} never became hot"


async def test_hot_path_serves_fastapis_bytes(
    frozen: RunningGateway,
    publisher: Publisher,
    indicators: Indicators,
    sentiment: Sentiment,
) -> None:
    """Every hot resource answers with exactly the body and ETag the FastAPI route gives."""
    asset = frozen.asset
    await publish_ticker(publisher, asset, 101.5)
    await publisher.publish(Channel(ChannelKind.INDICATORS, asset, Timeframe.H1), indicators)
    await publisher.publish(Channel(ChannelKind.SENTIMENT, asset), sentiment)
    await publisher.publish(
        Channel(ChannelKind.FORECAST, asset, Timeframe.M5), forecast(asset, Timeframe.M5)
    )
    await publisher.publish(
        Channel(ChannelKind.EVALUATION, asset, Timeframe.H1), evaluation(asset, Timeframe.H1)
    )
    urls = [
        f"/v1/assets/{asset}/ticker",
        f"/v1/assets/{asset}/indicators?tf=1h",
        f"/v1/assets/{asset}/indicators",
        f"/v1/assets/{asset}/sentiment",
        f"/v1/assets/{asset}/forecast?tf=5m",
        f"/v1/assets/{asset}/evaluation?tf=1h",
    ]
    async with httpx.AsyncClient(base_url=frozen.base_url, timeout=10) as http:
        for url in urls:
            await wait_hot(http, url)
            hot = await hot_get(http, url)
            # An extra parameter the hot path does not understand: FastAPI answers.
            slow = await http.get(url + ("&" if "?" in url else "?") + "_=1")
            assert hot.status_code == slow.status_code == 200
            assert hot.content == slow.content
            assert hot.headers["etag"] == slow.headers["etag"]
            assert hot.headers["content-type"] == slow.headers["content-type"]
            assert hot.headers["cache-control"] == slow.headers["cache-control"] == "no-cache"


async def test_not_modified_on_the_hot_path(
    gateway: RunningGateway, http: httpx.AsyncClient, publisher: Publisher
) -> None:
    """If-None-Match with the current tag is answered 304 by the hot path, without a body."""
    url = f"/v1/assets/{gateway.asset}/ticker"
    await publish_ticker(publisher, gateway.asset, 1.0)
    await wait_hot(http, url)
    etag = (await http.get(url)).headers["etag"]
    response = await hot_get(http, url, headers={"If-None-Match": f'"other", {etag}'})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


async def test_l1_follows_new_events(
    gateway: RunningGateway, http: httpx.AsyncClient, publisher: Publisher
) -> None:
    """A new value published on the channel reaches the hot path without any Redis read."""
    url = f"/v1/assets/{gateway.asset}/ticker"
    await publish_ticker(publisher, gateway.asset, 1.0)
    await wait_hot(http, url)
    first = await hot_get(http, url)
    await publish_ticker(publisher, gateway.asset, 2.0)
    prices: list[float] = []

    async def refreshed() -> bool:
        prices.append((await hot_get(http, url)).json()["data"]["price"])
        return prices[-1] == 2.0

    deadline = time.monotonic() + 10
    while not await refreshed():
        assert time.monotonic() < deadline
    assert set(prices) <= {1.0, 2.0}
    assert first.headers["etag"] != (await http.get(url)).headers["etag"]


async def test_candles_are_hot_after_one_read_and_follow_new_candles(
    gateway: RunningGateway, http: httpx.AsyncClient, redis: Redis, publisher: Publisher
) -> None:
    """The first read loads the set into L1; later reads are hot; a new candle reloads it."""
    asset, hour = gateway.asset, 3600
    await store_candles(redis, publisher, asset, Timeframe.H1, [hour * n for n in range(10, 15)])
    url = f"/v1/assets/{asset}/candles?tf=1h&limit=3"
    first = await http.get(url)
    assert [c["t"] for c in first.json()["data"]] == [hour * n for n in (12, 13, 14)]
    again = await hot_get(http, url)
    assert again.json()["data"] == first.json()["data"]
    other_limit = await hot_get(http, f"/v1/assets/{asset}/candles?limit=2&tf=1h")
    assert [c["t"] for c in other_limit.json()["data"]] == [hour * 13, hour * 14]

    await store_candles(redis, publisher, asset, Timeframe.H1, [hour * 15])
    deadline = time.monotonic() + 10
    while (await http.get(url)).json()["data"][-1]["t"] != hour * 15:
        assert time.monotonic() < deadline, "the new candle never showed"


async def test_forecast_and_evaluation_endpoints(
    gateway: RunningGateway, http: httpx.AsyncClient, publisher: Publisher
) -> None:
    """Forecast and evaluation are served per timeframe; before any value, 503 + Retry-After."""
    asset = gateway.asset
    missing = await http.get(f"/v1/assets/{asset}/forecast", params={"tf": "1h"})
    assert missing.status_code == 503 and int(missing.headers["retry-after"]) > 0
    await publisher.publish(
        Channel(ChannelKind.FORECAST, asset, Timeframe.H1), forecast(asset, Timeframe.H1, 0.7)
    )
    await publisher.publish(
        Channel(ChannelKind.EVALUATION, asset, Timeframe.H1), evaluation(asset, Timeframe.H1, 321)
    )
    body = (await http.get(f"/v1/assets/{asset}/forecast")).json()
    assert body["data"]["p_up"] == 0.7
    assert body["data"]["model_version"] == "logit-ridge/1"
    body = (await http.get(f"/v1/assets/{asset}/evaluation", params={"tf": "1h"})).json()
    assert body["data"]["recorded"] == 321
    assert body["meta"]["stale"] is False
    unserved = await http.get(f"/v1/assets/{asset}/evaluation", params={"tf": "1d"})
    assert unserved.status_code == 422


async def test_unusual_requests_are_left_to_fastapi(
    gateway: RunningGateway, http: httpx.AsyncClient, publisher: Publisher
) -> None:
    """Bad queries on hot resources still get FastAPI's validation answers."""
    asset = gateway.asset
    await publish_ticker(publisher, asset, 1.0)
    await wait_hot(http, f"/v1/assets/{asset}/ticker")
    assert (
        await http.get(f"/v1/assets/{asset}/indicators", params={"tf": "2h"})
    ).status_code == 422
    assert (await http.get(f"/v1/assets/{asset}/candles", params={"limit": "0"})).status_code == 422
    assert (await http.post(f"/v1/assets/{asset}/ticker")).status_code == 405
