"""The whole service on the model provider, in-process over a private Redis and a fake API:
readings once per state, outages and hostile news invisible, the key never logged."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import structlog
from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel, ChannelKind, sentiment_headlines_key
from marketpulse_common.logs import configure_logging
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_sentiment.screening import copies
from marketpulse_sentiment.service import GROUP, run
from tests.beacons import live_instances
from tests.integration.sentiment.cache_seed import (
    publish_indicators,
    publish_ticker,
    sentiment_count,
    stored_sentiment,
)
from tests.integration.sentiment.fake_anthropic import (
    API_KEY,
    BAD_ANSWERS,
    OVERLOADED,
    RATE_LIMITED,
    VALID_BULLISH,
    FakeAnthropic,
    Reply,
    always,
    compromised,
    error_reply,
    tool_reply,
)
from tests.integration.sentiment.feed_server import FeedServer, rss
from tests.integration.sentiment.model_setup import model_settings
from tests.unit.sentiment.hostile_headlines import HOSTILE_HEADLINES
from tests.waiting import eventually

pytestmark = pytest.mark.redis

H1, D1 = Timeframe.H1, Timeframe.D1
ASSET = "bitcoin"


@pytest.fixture(autouse=True)
def _sdk_reads_the_fake(monkeypatch: pytest.MonkeyPatch, fake_anthropic: FakeAnthropic) -> None:
    """The service builds its own client: point the SDK at the fake through its variable."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.url)


def settings_for(redis_server: RedisServer, **overrides: Any) -> Settings:
    return model_settings(redis_server.url, assets=[ASSET], timeframes=["1h", "1d"], **overrides)


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
    groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
    last = await redis.xrevrange(stream, count=1)
    group = groups.get(GROUP)
    return bool(
        group and last and group["last-delivered-id"] == last[0][0] and not group["pending"]
    )


def stream_of(tf: Timeframe) -> str:
    return Channel(ChannelKind.INDICATORS, ASSET, tf).stream_key


async def test_the_service_publishes_model_readings_once_per_state(
    own_redis: Redis, redis_server: RedisServer, fake_anthropic: FakeAnthropic
) -> None:
    """An indicators event → one model reading; the same event again → no second call."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await publish_ticker(own_redis, ASSET)
    event = await publish_indicators(own_redis, ASSET, H1)
    async with running(settings_for(redis_server)):
        s = await eventually(lambda: stored_sentiment(own_redis, ASSET), what="a reading")
        fields = (await own_redis.xrange(stream_of(H1), event.seq, event.seq))[0][1]
        await own_redis.xadd(stream_of(H1), fields)
        await eventually(lambda: consumed(own_redis, stream_of(H1)), what="redelivery done")
        beacons = await live_instances(own_redis, "sentiment")
    assert s.provider == "anthropic" and s.model is not None
    assert fake_anthropic.calls == 1
    assert await sentiment_count(own_redis, ASSET) == 1
    assert [b["provider"] for b in beacons] == ["anthropic"]


async def test_an_outage_is_invisible_and_the_service_stays_up(
    own_redis: Redis, redis_server: RedisServer, fake_anthropic: FakeAnthropic
) -> None:
    """529s, 429s and timeouts: events are still consumed, a reading is served, nothing dies."""
    fake_anthropic.script(RATE_LIMITED, OVERLOADED, Reply(body={}, delay_s=3))
    fake_anthropic.responder = always(OVERLOADED)
    settings = settings_for(redis_server, anthropic_timeout_s=0.5, anthropic_max_retries=2)
    await publish_ticker(own_redis, ASSET)
    await publish_indicators(own_redis, ASSET, H1)
    async with running(settings):
        await eventually(lambda: consumed(own_redis, stream_of(H1)), timeout=15, what="consumed")
        s = await stored_sentiment(own_redis, ASSET)
        await publish_indicators(own_redis, ASSET, D1, rsi=40.0)
        await eventually(lambda: consumed(own_redis, stream_of(D1)), what="next event consumed")
        assert await live_instances(own_redis, "sentiment")
    assert s is not None and s.provider == "heuristic" and s.fallback
    assert fake_anthropic.calls == 3  # then the cooldown: the second event asked nobody


async def test_bad_answers_of_every_kind_store_nothing_out_of_contract(
    own_redis: Redis, redis_server: RedisServer, fake_anthropic: FakeAnthropic
) -> None:
    """Every kind of bad answer, in turn, through the running service: all stored values valid."""
    kinds = itertools.cycle([*BAD_ANSWERS.values(), tool_reply(VALID_BULLISH)])
    fake_anthropic.responder = lambda _request: next(kinds)
    await publish_ticker(own_redis, ASSET)
    async with running(settings_for(redis_server)):
        for window in range(30, 30 + len(BAD_ANSWERS)):
            await publish_indicators(own_redis, ASSET, H1, window=window, rsi=window + 20)
            await eventually(lambda: consumed(own_redis, stream_of(H1)), what="consumed")
        assert await live_instances(own_redis, "sentiment")
    entries = await own_redis.xrange(Channel(ChannelKind.SENTIMENT, ASSET).stream_key)
    served = [Sentiment.model_validate_json(fields["d"]) for _, fields in entries]
    assert len(served) == len(BAD_ANSWERS)
    for s in served:
        assert s.fallback or s.summary == VALID_BULLISH["summary"]


def xml_safe(text: str) -> bool:
    return all(ch in "\t\n\r" or ord(ch) >= 0x20 for ch in text)


async def test_hostile_news_cannot_push_anything_out_of_contract(
    own_redis: Redis, redis_server: RedisServer, fake_anthropic: FakeAnthropic
) -> None:
    """Hostile feeds → news job → worker → an obeying model: every stored value is in contract."""
    fake_anthropic.responder = compromised
    feeds = {f"/{n}": rss(h, published=None) for n, h in enumerate(HOSTILE_HEADLINES)}
    await publish_ticker(own_redis, ASSET)
    with FeedServer(feeds).running() as news:
        urls = [news.url(path) for path in feeds]
        settings = settings_for(redis_server, news_feeds=urls, news_interval_s=600)
        async with running(settings):
            await eventually(lambda: own_redis.get(sentiment_headlines_key(ASSET)), what="news")
            for window in range(40, 46):  # six new states, six readings
                await publish_indicators(own_redis, ASSET, H1, window=window, rsi=window + 20)
                await eventually(lambda: consumed(own_redis, stream_of(H1)), what="consumed")
            assert await live_instances(own_redis, "sentiment")
    entries = await own_redis.xrange(Channel(ChannelKind.SENTIMENT, ASSET).stream_key)
    assert len(entries) == 6
    served = [Sentiment.model_validate_json(fields["d"]) for _, fields in entries]
    headlines = [h for h in HOSTILE_HEADLINES if xml_safe(h)]
    for s in served:
        for text in [s.summary, *s.drivers]:
            assert "http" not in text and not any(copies(text, h) for h in headlines)


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Every log line, ours and the SDK's and httpx's at debug level, into one buffer."""
    out = io.StringIO()
    configure_logging(service="sentiment", log_format="json", level="debug", stream=out)
    structlog.configure(cache_logger_on_first_use=False)  # keep module loggers uncached
    for name in ("anthropic", "httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
    for name in ("anthropic", "httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).setLevel(logging.NOTSET)


async def test_the_api_key_never_reaches_the_logs(
    own_redis: Redis,
    redis_server: RedisServer,
    fake_anthropic: FakeAnthropic,
    log_text: io.StringIO,
) -> None:
    """Successes, rejections, rate limits and timeouts, all logged at debug: no key anywhere."""
    fake_anthropic.script(
        tool_reply(VALID_BULLISH),
        error_reply(401, "authentication_error"),
    )
    settings = settings_for(redis_server, anthropic_timeout_s=0.5, anthropic_max_retries=1)
    await publish_ticker(own_redis, ASSET)
    async with running(settings):
        await publish_indicators(own_redis, ASSET, H1)
        await eventually(lambda: consumed(own_redis, stream_of(H1)), what="first event")
        await publish_indicators(own_redis, ASSET, D1)
        await eventually(lambda: consumed(own_redis, stream_of(D1)), what="second event")
    text = log_text.getvalue()
    assert "Sending HTTP Request" in text  # the SDK's own debug lines were captured
    assert "authentication_error" in text or "rejected" in text
    assert API_KEY not in text
    assert API_KEY[-12:] not in text
