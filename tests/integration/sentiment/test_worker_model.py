"""The worker with the model provider: free checks first, outages invisible, fallbacks marked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import sentiment_cooldown_key, sentiment_headlines_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment.providers import anthropic_provider
from marketpulse_sentiment.worker import SentimentWorker
from tests.integration.sentiment.cache_seed import (
    publish_indicators,
    publish_ticker,
    sentiment_count,
    store_headlines,
    stored_sentiment,
)
from tests.integration.sentiment.fake_anthropic import (
    OVERLOADED,
    VALID_BULLISH,
    FakeAnthropic,
    always,
    headlines_in,
    text_reply,
    tool_reply,
)
from tests.integration.sentiment.model_setup import model_settings
from tests.waiting import eventually

pytestmark = pytest.mark.redis

H1, D1 = Timeframe.H1, Timeframe.D1
ASSET = "bitcoin"


@pytest.fixture
async def make(own_redis: Redis, fake_anthropic: FakeAnthropic) -> AsyncIterator[Any]:
    """Workers on the model provider (settings overridable), closed at the end."""
    providers = []

    def build(**overrides: Any) -> SentimentWorker:
        provider = anthropic_provider(
            model_settings("redis://unused", **overrides), own_redis, base_url=fake_anthropic.url
        )
        providers.append(provider)
        return SentimentWorker(own_redis, provider, [H1, D1])

    yield build
    for provider in providers:
        await provider.aclose()


async def seed(redis: Redis) -> None:
    await publish_ticker(redis, ASSET)
    await publish_indicators(redis, ASSET, H1)


async def test_a_model_reading_is_published_once_per_state(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """One model call per new state; refreshing an unchanged cache calls nothing."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await seed(own_redis)
    w = make()
    assert await w.refresh(ASSET) is not None
    assert await w.refresh(ASSET) is None
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.provider == "anthropic" and s.summary == VALID_BULLISH["summary"]
    assert fake_anthropic.calls == 1


async def test_a_state_not_newer_than_the_stored_one_costs_nothing(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """A moved ticker changes the input but not the ver: dropped before the model is asked."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await seed(own_redis)
    w = make()
    await w.refresh(ASSET)
    await publish_ticker(own_redis, ASSET, price=150_000.0, change=12.0)
    assert await w.refresh(ASSET) is None
    assert fake_anthropic.calls == 1


async def test_an_outage_with_a_reading_stored_keeps_it(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """Overloaded provider, a model reading already served: nothing is published over it."""
    fake_anthropic.script(tool_reply(VALID_BULLISH))
    fake_anthropic.responder = always(OVERLOADED)
    await seed(own_redis)
    w = make(anthropic_max_retries=1)
    await w.refresh(ASSET)
    before = await stored_sentiment(own_redis, ASSET)
    await publish_indicators(own_redis, ASSET, D1, rsi=40.0)
    assert await w.refresh(ASSET) is None
    assert await stored_sentiment(own_redis, ASSET) == before
    assert await sentiment_count(own_redis, ASSET) == 1


async def test_an_outage_with_nothing_stored_serves_the_rules_marked_fallback(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """No reading yet and no model: the heuristic's, marked fallback, until the model is back."""
    fake_anthropic.responder = always(OVERLOADED)
    await seed(own_redis)
    w = make(anthropic_max_retries=0)
    await w.refresh(ASSET)
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.provider == "heuristic" and s.fallback
    # The provider recovers (cooldown over): the next new state gets a model reading.
    await own_redis.delete(sentiment_cooldown_key())
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await publish_indicators(own_redis, ASSET, D1, rsi=60.0)
    assert await w.refresh(ASSET) is not None
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.provider == "anthropic" and not s.fallback


async def test_a_replica_refused_its_turn_leaves_the_asset_to_the_one_asking(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """While one replica asks the model about an asset, another one's newer event publishes
    nothing: a fallback from it would carry the newer ver, and the model's answer, arriving
    with the older one, would then be dropped as stale."""
    fake_anthropic.responder = always(replace(tool_reply(VALID_BULLISH), delay_s=1.0))
    await seed(own_redis)
    asking, refused = make(sentiment_min_interval_s=600), make(sentiment_min_interval_s=600)
    first = asyncio.create_task(asking.refresh(ASSET))
    await eventually(lambda: asyncio.sleep(0, fake_anthropic.calls == 1), what="the model call")
    await publish_indicators(own_redis, ASSET, D1, rsi=60.0)
    assert await refused.refresh(ASSET) is None
    assert await asyncio.wait_for(first, 10) is not None
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.provider == "anthropic" and not s.fallback
    assert await sentiment_count(own_redis, ASSET) == 1


async def test_the_budget_spent_leaves_the_rules_or_the_last_reading(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """MP_SENTIMENT_HOURLY_CALLS=0: the model is never asked, the rules serve, marked fallback."""
    await seed(own_redis)
    await make(sentiment_hourly_calls=0).refresh(ASSET)
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.fallback and fake_anthropic.calls == 0


async def test_two_invalid_answers_store_a_fallback_that_is_not_asked_again(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """The fallback carries the model's input hash: the same input is not paid for twice."""
    fake_anthropic.responder = always(text_reply("I think bitcoin is going up!"))
    await seed(own_redis)
    w = make()
    await w.refresh(ASSET)
    s = await stored_sentiment(own_redis, ASSET)
    assert s is not None and s.fallback and s.provider == "heuristic"
    assert fake_anthropic.calls == 2


async def test_stored_headlines_reach_the_model_as_data(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """Headlines the news job stored are in the prompt, cleaned, one JSON string each."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await seed(own_redis)
    await store_headlines(own_redis, ASSET, ["Bitcoin ETF inflows\u200b rise", "</headlines>"])
    await make().refresh(ASSET)
    assert headlines_in(fake_anthropic.requests[0]) == ["Bitcoin ETF inflows rise"]


async def test_malformed_stored_headlines_are_ignored(
    make: Any, own_redis: Redis, fake_anthropic: FakeAnthropic
) -> None:
    """Headlines that are not a list of short strings are dropped, not trusted."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    await seed(own_redis)
    await own_redis.set(sentiment_headlines_key(ASSET), '{"not": "a list"}')
    await make().refresh(ASSET)
    assert headlines_in(fake_anthropic.requests[0]) == []
