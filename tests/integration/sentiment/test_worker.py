"""The worker reads the cache, publishes a sentiment once per changed input, never an older one."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.providers import HeuristicProvider
from marketpulse_sentiment.worker import SentimentWorker
from tests.integration.sentiment.cache_seed import (
    publish_forecast,
    publish_indicators,
    publish_ticker,
    sentiment_count,
    stored_sentiment,
)

pytestmark = pytest.mark.redis

H1, D1 = Timeframe.H1, Timeframe.D1


def worker(redis: Redis) -> SentimentWorker:
    return SentimentWorker(redis, HeuristicProvider(), [H1, D1])


async def test_a_cached_asset_gets_a_sentiment_from_every_timeframe(
    redis: Redis, unique: str
) -> None:
    """The published sentiment reads the ticker and the indicators of every timeframe."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    await publish_indicators(redis, unique, D1, rsi=40.0)
    assert await worker(redis).refresh(unique) is not None
    s = await stored_sentiment(redis, unique)
    assert s is not None and s.asset == unique and s.provider == "heuristic"
    assert any("64 on 1h, 40 on 1d" in d for d in s.drivers)
    assert any(d.startswith("24 h change +3.0%") for d in s.drivers)


async def test_an_unchanged_cache_publishes_nothing_new(redis: Redis, unique: str) -> None:
    """Refreshing twice over the same cached state stores one sentiment."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    w = worker(redis)
    assert await w.refresh(unique) is not None
    assert await w.refresh(unique) is None
    assert await sentiment_count(redis, unique) == 1


async def test_a_moved_ticker_alone_does_not_republish(redis: Redis, unique: str) -> None:
    """Re-processing after only the price moved keeps the stored sentiment (same ver)."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    w = worker(redis)
    await w.refresh(unique)
    before = await stored_sentiment(redis, unique)
    await publish_ticker(redis, unique, price=120_000.0, change=-9.0)
    assert await w.refresh(unique) is None
    assert await stored_sentiment(redis, unique) == before


async def test_a_new_window_on_a_slower_timeframe_republishes(redis: Redis, unique: str) -> None:
    """A 1d window published after the 1h one (both closing together) is a new sentiment."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1, window=47)  # closes at 48 h
    w = worker(redis)
    await w.refresh(unique)
    await publish_indicators(redis, unique, D1, rsi=30.0, window=1)  # closes at 48 h too
    assert await w.refresh(unique) is not None
    s = await stored_sentiment(redis, unique)
    assert s is not None and any("30 on 1d" in d for d in s.drivers)
    assert await sentiment_count(redis, unique) == 2


async def test_no_cached_indicators_publishes_nothing(redis: Redis, unique: str) -> None:
    """An event whose indicators have gone from the cache leaves sentiment alone."""
    await publish_ticker(redis, unique)
    assert await worker(redis).refresh(unique) is None
    assert await stored_sentiment(redis, unique) is None


async def test_an_unreadable_ticker_snapshot_is_ignored(redis: Redis, unique: str) -> None:
    """A corrupt ticker snapshot reads as no ticker; the indicators still give a sentiment."""
    await publish_indicators(redis, unique, H1)
    key = Channel(ChannelKind.TICKER, unique).snapshot_key
    await redis.hset(
        key, mapping={"s": "ticker/1", "ts": "1", "d": "{oops", "seq": "1-0", "epoch": "e"}
    )
    assert await worker(redis).refresh(unique) is not None
    s = await stored_sentiment(redis, unique)
    assert s is not None and not any(d.startswith("24 h change") for d in s.drivers)


async def test_forecasts_and_their_evaluation_are_read(redis: Redis, unique: str) -> None:
    """The cached forecast and its track record reach the reading and its drivers."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    await publish_forecast(redis, unique, H1, 0.64)
    assert await worker(redis).refresh(unique) is not None
    s = await stored_sentiment(redis, unique)
    assert s is not None
    assert any(d.startswith("Forecast P(up) 64% on 1h (beats the base rate)") for d in s.drivers)


async def test_a_forecast_landing_after_its_indicators_republishes(
    redis: Redis, unique: str
) -> None:
    """A forecast published after the sentiment was made raises the ver: a new reading."""
    await publish_ticker(redis, unique)
    await publish_indicators(redis, unique, H1)
    w = worker(redis)
    await w.refresh(unique)
    await publish_forecast(redis, unique, H1, 0.3)
    assert await w.refresh(unique) is not None
    assert await sentiment_count(redis, unique) == 2
