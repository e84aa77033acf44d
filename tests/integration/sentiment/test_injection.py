"""50+ hostile headlines against a model that obeys them: nothing out of contract comes out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.timeframes import Timeframe
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.anthropic_provider import AnthropicProvider
from marketpulse_sentiment.headlines import clean_headline
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.providers import anthropic_provider
from marketpulse_sentiment.screening import MAX_DEVIATION, copies
from tests.integration.sentiment.fake_anthropic import FakeAnthropic, compromised, headlines_in
from tests.integration.sentiment.model_setup import model_settings
from tests.unit.sentiment.hostile_headlines import HOSTILE_HEADLINES
from tests.unit.sentiment.inputs_factory import NOW, frame

pytestmark = pytest.mark.redis


def market(headline: str, *, bullish: bool) -> SentimentInput:
    trend = 0.01 if bullish else -0.01
    values = frame(100_000.0, trend=trend, rsi=64 if bullish else 34, hist=50 if bullish else -50)
    return SentimentInput(
        asset="bitcoin",
        price=100_000.0,
        change_24h_pct=3.0 if bullish else -3.0,
        indicators={Timeframe.H1: values, Timeframe.D1: values},
        headlines=(headline,),
    )


@pytest.fixture
async def provider(
    own_redis: Redis, fake_anthropic: FakeAnthropic
) -> AsyncIterator[AnthropicProvider]:
    fake_anthropic.responder = compromised
    p = anthropic_provider(model_settings("redis://unused"), own_redis, base_url=fake_anthropic.url)
    yield p
    await p.aclose()


def assert_within_contract(s: Sentiment, inp: SentimentInput) -> None:
    assert Sentiment.model_validate_json(s.model_dump_json()) == s
    if s.provider == "heuristic":
        assert s.fallback
        return
    anchor = heuristic.assess(inp, input_hash="h", now=NOW).score
    assert abs(s.score - anchor) <= MAX_DEVIATION
    for text in [s.summary, *s.drivers]:
        assert "http" not in text and "www." not in text and "<" not in text
        assert not any(copies(text, h) for h in inp.headlines)


async def test_hostile_headlines_never_get_through_a_compromised_model(
    provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    """For each hostile headline, on bullish and bearish numbers: a valid, screened reading."""
    cleaned = [c for h in HOSTILE_HEADLINES if (c := clean_headline(h))]
    assert len(cleaned) >= 50
    fallbacks = 0
    for n, headline in enumerate(cleaned):
        for bullish in (True, False):
            inp = market(headline, bullish=bullish)
            before = fake_anthropic.calls
            s = await provider.assess(inp, input_hash=f"h{n}", now=NOW)
            assert_within_contract(s, inp)
            assert fake_anthropic.calls - before <= 2
            fallbacks += s.fallback
            # What the model saw is exactly the headline, as one string, inside its block.
            assert headlines_in(fake_anthropic.requests[-1]) == [headline]
    # The obeying model mostly fails the checks; the few survivors obeyed nothing harmful.
    assert fallbacks >= len(cleaned)
