"""The anthropic provider through the real SDK against a local Messages API and a real Redis:
valid answers are used, bad ones are retried once then replaced by the rules, failures are
retried within bounds, and the budget, interval and cooldown hold."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import sentiment_cooldown_key, sentiment_gate_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.anthropic_provider import AnthropicProvider, request_estimate
from marketpulse_sentiment.budget import BudgetLimits
from marketpulse_sentiment.budget_store import CallBudget
from marketpulse_sentiment.errors import ProviderUnavailable
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.prompt import user_message
from marketpulse_sentiment.providers import anthropic_provider
from marketpulse_sentiment.retry_policy import DEFAULT_COOLDOWN_S, REJECTED_COOLDOWN_S
from tests.integration.sentiment.fake_anthropic import (
    BAD_ANSWERS,
    OVERLOADED,
    RATE_LIMITED,
    VALID_BULLISH,
    FakeAnthropic,
    Reply,
    always,
    error_reply,
    text_reply,
    tool_reply,
    user_text,
)
from tests.integration.sentiment.model_setup import MODEL, model_settings
from tests.unit.sentiment.inputs_factory import NOW, frame
from tests.waiting import eventually

pytestmark = pytest.mark.redis


def market(asset: str = "bitcoin", headlines: tuple[str, ...] = ()) -> SentimentInput:
    """A clearly bullish asset: the rules read about +0.8."""
    values = frame(100_000.0, trend=0.01, rsi=64, hist=50)
    return SentimentInput(
        asset=asset,
        price=100_000.0,
        change_24h_pct=3.0,
        indicators=dict.fromkeys([Timeframe.H1, Timeframe.H4, Timeframe.D1], values),
        headlines=headlines,
    )


@pytest.fixture
async def make(own_redis: Redis, fake_anthropic: FakeAnthropic) -> AsyncIterator[Any]:
    """Build providers on the test's Redis and the fake server; closed at the end."""
    built: list[AnthropicProvider] = []

    def build(**overrides: Any) -> AnthropicProvider:
        settings = model_settings("redis://unused", **overrides)
        provider = anthropic_provider(settings, own_redis, base_url=fake_anthropic.url)
        built.append(provider)
        return provider

    yield build
    for provider in built:
        await provider.aclose()


async def assess(provider: AnthropicProvider, inp: SentimentInput | None = None) -> Sentiment:
    return await provider.assess(inp or market(), input_hash="h1", now=NOW)


async def test_a_valid_answer_becomes_the_sentiment(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """One request; the answer is stored as given, by provider anthropic and its model."""
    fake_anthropic.script(tool_reply(VALID_BULLISH, input_tokens=900, output_tokens=120))
    s = await assess(make())
    assert (s.label, s.score, s.confidence) == ("bullish", 0.6, 0.7)
    assert s.summary == VALID_BULLISH["summary"] and s.drivers == VALID_BULLISH["drivers"]
    assert (s.provider, s.model, s.fallback, s.input_hash) == ("anthropic", MODEL, False, "h1")
    assert fake_anthropic.calls == 1
    usage = await CallBudget(own_redis, BudgetLimits(1, 1)).usage()
    assert (usage.calls, usage.tokens) == (1, 1020)


async def test_an_invalid_answer_is_retried_once_with_the_problems(
    make: Any, fake_anthropic: FakeAnthropic
) -> None:
    """Text instead of a tool call → a second ask that says why; its valid answer is used."""
    fake_anthropic.script(text_reply('{"label": "bullish", oops'), tool_reply(VALID_BULLISH))
    s = await assess(make())
    assert s.provider == "anthropic" and not s.fallback
    first, second = (user_text(r) for r in fake_anthropic.requests)
    assert "rejected" not in first
    assert "previous answer was rejected" in second and "no call of the record_sentiment" in second


@pytest.mark.parametrize("reply", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
async def test_two_invalid_answers_give_the_rules_reading_as_a_fallback(
    make: Any, fake_anthropic: FakeAnthropic, reply: Reply
) -> None:
    """Invalid twice → the heuristic's reading, marked fallback; exactly two requests."""
    fake_anthropic.responder = always(reply)
    s = await assess(make())
    expected = heuristic.assess(market(), input_hash="h1", now=NOW)
    assert s == expected.model_copy(update={"fallback": True})
    assert s.provider == "heuristic" and s.fallback
    assert fake_anthropic.calls == 2


async def test_slow_answers_time_out_and_pause_every_replica(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """Answers slower than the timeout: retried, then unavailable and a shared cooldown."""
    fake_anthropic.responder = always(Reply(body={}, delay_s=3.0))
    provider = make(anthropic_timeout_s=0.3, anthropic_max_retries=2, sentiment_deadline_s=8)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        await assess(provider)
    assert caught.value.reason == "timeout"
    assert fake_anthropic.calls == 3
    assert time.monotonic() - started < 5
    ttl = await own_redis.pttl(sentiment_cooldown_key())
    assert 0 < ttl <= DEFAULT_COOLDOWN_S * 1000
    with pytest.raises(ProviderUnavailable) as again:
        await assess(make(), market("ethereum"))
    assert again.value.reason == "cooldown" and fake_anthropic.calls == 3


async def test_the_deadline_bounds_the_whole_assessment(
    make: Any, fake_anthropic: FakeAnthropic
) -> None:
    """However many retries are allowed, the assessment ends at its deadline."""
    fake_anthropic.responder = always(Reply(body={}, delay_s=5.0))
    provider = make(anthropic_timeout_s=1.0, anthropic_max_retries=5, sentiment_deadline_s=1.5)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        await assess(provider)
    assert time.monotonic() - started < 2.5


async def test_a_429_with_retry_after_is_retried_after_the_pause(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """429 (retry-after 0.05 s) then a valid answer: used; both requests count as calls."""
    fake_anthropic.script(RATE_LIMITED, tool_reply(VALID_BULLISH, input_tokens=500))
    s = await assess(make())
    assert s.provider == "anthropic" and fake_anthropic.calls == 2
    usage = await CallBudget(own_redis, BudgetLimits(1, 1)).usage()
    assert (usage.calls, usage.tokens) == (2, 620)  # the refused request used no tokens


async def test_persistent_529_overload_gives_up_after_the_retries(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """529 on every try: 1 + max_retries requests, then unavailable with a cooldown."""
    fake_anthropic.responder = always(OVERLOADED)
    with pytest.raises(ProviderUnavailable) as caught:
        await assess(make(anthropic_max_retries=2))
    assert caught.value.reason == "overloaded" and fake_anthropic.calls == 3
    assert await own_redis.get(sentiment_cooldown_key()) == "overloaded"


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """429 asking for 30 s with an 8 s deadline: give up at once, cool down for 30 s."""
    fake_anthropic.responder = always(error_reply(429, "rate_limit_error", retry_after="30"))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        await assess(make())
    assert time.monotonic() - started < 1.0 and fake_anthropic.calls == 1
    assert 25_000 < await own_redis.pttl(sentiment_cooldown_key()) <= 30_000


async def test_a_rejected_request_is_not_retried_and_pauses_long(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """A 400 (bad model name, say) is not retried; model calls pause for a quarter hour."""
    fake_anthropic.responder = always(error_reply(400, "invalid_request_error"))
    with pytest.raises(ProviderUnavailable) as caught:
        await assess(make())
    assert caught.value.reason == "rejected" and fake_anthropic.calls == 1
    assert await own_redis.pttl(sentiment_cooldown_key()) > (REJECTED_COOLDOWN_S - 5) * 1000


async def test_the_hourly_call_budget_is_never_exceeded(
    make: Any, fake_anthropic: FakeAnthropic
) -> None:
    """With 3 calls an hour, 10 assets get 3 model readings; the server sees 3 requests."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    provider = make(sentiment_hourly_calls=3)
    outcomes = []
    for n in range(10):
        try:
            outcomes.append((await assess(provider, market(f"asset{n}"))).provider)
        except ProviderUnavailable as e:
            outcomes.append(e.reason)
    assert outcomes == ["anthropic"] * 3 + ["budget"] * 7
    assert fake_anthropic.calls == 3


async def test_the_hourly_token_budget_is_never_exceeded(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """A token budget that fits one request's estimate admits one request, not two."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH, input_tokens=1000))
    budget = request_estimate(user_message(market("one"))) + 500
    provider = make(sentiment_hourly_tokens=budget)
    await assess(provider, market("one"))
    with pytest.raises(ProviderUnavailable) as caught:
        await assess(provider, market("two"))
    assert caught.value.reason == "budget" and fake_anthropic.calls == 1
    assert (await CallBudget(own_redis, BudgetLimits(1, 1)).usage()).tokens <= budget


async def test_the_asset_gate_lasts_the_deadline_while_asking_then_the_interval(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """A replica killed mid-call leaves a gate that expires with the deadline, so the event
    reclaimed from it is assessed rather than refused for a whole interval."""
    fake_anthropic.responder = always(replace(tool_reply(VALID_BULLISH), delay_s=1.0))
    provider = make(sentiment_min_interval_s=600, sentiment_deadline_s=3.0)
    asking = asyncio.create_task(assess(provider))
    await eventually(lambda: asyncio.sleep(0, fake_anthropic.calls == 1), what="the model call")
    assert 0 < await own_redis.pttl(sentiment_gate_key("bitcoin")) <= 3000
    await asyncio.wait_for(asking, 10)
    assert await own_redis.pttl(sentiment_gate_key("bitcoin")) > 590_000


async def test_a_call_that_failed_gives_the_asset_its_turn_back(
    make: Any, fake_anthropic: FakeAnthropic, own_redis: Redis
) -> None:
    """No answer, no interval: once the cooldown is over the asset may be asked at once."""
    fake_anthropic.responder = always(OVERLOADED)
    provider = make(sentiment_min_interval_s=600, anthropic_max_retries=0)
    with pytest.raises(ProviderUnavailable):
        await assess(provider)
    assert not await own_redis.exists(sentiment_gate_key("bitcoin"))
    await own_redis.delete(sentiment_cooldown_key())
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    assert (await assess(provider)).provider == "anthropic"


async def test_an_asset_is_asked_about_at_most_once_per_interval(
    make: Any, fake_anthropic: FakeAnthropic
) -> None:
    """Within MP_SENTIMENT_MIN_INTERVAL_S the same asset is refused without a request."""
    fake_anthropic.responder = always(tool_reply(VALID_BULLISH))
    provider = make(sentiment_min_interval_s=60)
    await assess(provider, market("bitcoin"))
    with pytest.raises(ProviderUnavailable) as caught:
        await assess(provider, market("bitcoin"))
    await assess(provider, market("ethereum"))
    assert caught.value.reason == "interval" and fake_anthropic.calls == 2
