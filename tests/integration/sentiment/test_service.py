"""The sentiment service over a real Redis: consumes indicator events, publishes, idles, trims."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.settings import Settings, load_settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.service import (
    GROUP,
    SENTIMENT_STREAM_MAXLEN,
    run,
    trim_sentiment_streams,
)
from tests.beacons import live_instances
from tests.integration.sentiment.cache_seed import (
    publish_indicators,
    publish_ticker,
    sentiment_count,
    stored_sentiment,
)
from tests.waiting import eventually

pytestmark = pytest.mark.redis

H1, D1 = Timeframe.H1, Timeframe.D1


def settings_for(redis_url: str, asset: str, provider: str = "heuristic") -> Settings:
    return load_settings(
        redis_url=redis_url, assets=[asset], timeframes=["1h", "1d"], sentiment_provider=provider
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def consumed(redis: Redis, stream: str) -> bool:
    """True once the sentiment group has delivered and acked every entry of `stream`."""
    groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
    group = groups.get(GROUP)
    last = await redis.xrevrange(stream, count=1)
    return bool(
        group and last and group["last-delivered-id"] == last[0][0] and not group["pending"]
    )


def stream_of(asset: str, tf: Timeframe) -> str:
    return Channel(ChannelKind.INDICATORS, asset, tf).stream_key


async def test_an_indicators_event_yields_a_heuristic_sentiment(
    redis: Redis, redis_url: str, unique: str
) -> None:
    """Ticker + indicators cached and announced → a valid heuristic Sentiment snapshot."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    async with running(settings_for(redis_url, unique)):
        s = await eventually(lambda: stored_sentiment(redis, unique), what="a sentiment")
    assert s.asset == unique and s.provider == "heuristic" and not s.fallback
    assert s.label == "bullish"


async def test_a_redelivered_event_publishes_nothing_new(
    redis: Redis, redis_url: str, unique: str
) -> None:
    """The same event again over an unchanged cache adds nothing; a new window does."""
    await publish_ticker(redis, unique)
    event = await publish_indicators(redis, unique, H1)
    async with running(settings_for(redis_url, unique)):
        await eventually(lambda: stored_sentiment(redis, unique), what="a first sentiment")
        first = await stored_sentiment(redis, unique)
        fields = (await redis.xrange(stream_of(unique, H1), event.seq, event.seq))[0][1]
        await redis.xadd(stream_of(unique, H1), fields)
        await eventually(lambda: consumed(redis, stream_of(unique, H1)), what="redelivery done")
        assert await sentiment_count(redis, unique) == 1
        assert await stored_sentiment(redis, unique) == first

        await publish_indicators(redis, unique, D1, rsi=25.0)
        await eventually(lambda: consumed(redis, stream_of(unique, D1)), what="new window done")
        assert await sentiment_count(redis, unique) == 2


async def test_provider_off_consumes_and_publishes_nothing(
    redis: Redis, redis_url: str, unique: str
) -> None:
    """With MP_SENTIMENT_PROVIDER=off the service is alive but joins no group, stores nothing."""
    started = time.time()
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)

    async def idle_beacon() -> bool:
        beacons = await live_instances(redis, "sentiment")
        return any(b.get("provider") == "off" and float(str(b["ts"])) >= started for b in beacons)

    async with running(settings_for(redis_url, unique, provider="off")):
        await eventually(idle_beacon, what="the idle service's beacon")
        assert await redis.xinfo_groups(stream_of(unique, H1)) == []
        # A consuming service would have created the 1d stream for its group (MKSTREAM).
        assert await redis.exists(stream_of(unique, D1)) == 0
    assert await stored_sentiment(redis, unique) is None


async def test_sentiment_streams_are_trimmed_to_their_maxlen(redis: Redis, unique: str) -> None:
    """A sentiment stream longer than its maxlen is cut back by the trim loop."""
    stream = Channel(ChannelKind.SENTIMENT, unique).stream_key
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(SENTIMENT_STREAM_MAXLEN + 50):
            pipe.xadd(stream, {"n": str(n)})
        await pipe.execute()

    async def trimmed() -> bool:
        return int(await redis.xlen(stream)) <= SENTIMENT_STREAM_MAXLEN

    stop = asyncio.Event()
    task = asyncio.create_task(trim_sentiment_streams(redis, [unique], stop))
    try:
        await eventually(trimmed, what="the stream to be trimmed")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    newest = await redis.xrevrange(stream, count=1)
    assert newest[0][1] == {"n": str(SENTIMENT_STREAM_MAXLEN + 49)}


async def test_without_a_key_the_heuristic_serves_every_asset(
    redis: Redis, redis_url: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ANTHROPIC_API_KEY and no provider chosen: every asset read by the rules, saying so."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("MP_SENTIMENT_PROVIDER", raising=False)
    assets = [f"{unique}{n}" for n in range(3)]
    settings = load_settings(redis_url=redis_url, assets=assets, timeframes=["1h"])
    assert settings.sentiment == "heuristic"
    for asset in assets:
        await publish_ticker(redis, asset)
        await publish_indicators(redis, asset, H1)

    async def every_asset_read() -> list[Sentiment | None] | None:
        found = [await stored_sentiment(redis, a) for a in assets]
        return found if all(found) else None

    async with running(settings):
        found = await eventually(every_asset_read, what="a sentiment for every asset")
    assert all(s is not None and s.provider == "heuristic" and not s.fallback for s in found)
