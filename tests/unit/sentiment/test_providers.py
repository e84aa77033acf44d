"""MP_SENTIMENT_PROVIDER picks the provider; anthropic needs a key, else the rules serve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from marketpulse_common.events import Sentiment
from marketpulse_common.settings import load_settings
from marketpulse_sentiment.anthropic_provider import AnthropicProvider
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.providers import HeuristicProvider, build_provider
from tests.unit.sentiment.inputs_factory import NOW


@pytest.fixture
async def unconnected_redis() -> AsyncIterator[Redis]:
    """A client that is never used: building a provider must not touch Redis."""
    client = Redis.from_url("redis://127.0.0.1:1/0")
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("MP_SENTIMENT_PROVIDER", raising=False)


def test_off_selects_no_provider(unconnected_redis: Redis) -> None:
    """`off` means the service reads nothing."""
    settings = load_settings(sentiment_provider="off")
    assert build_provider(settings, unconnected_redis) is None


async def test_without_a_key_the_heuristic_serves(unconnected_redis: Redis) -> None:
    """No ANTHROPIC_API_KEY: the default is the heuristic, and it says so in `provider`."""
    provider = build_provider(load_settings(), unconnected_redis)
    assert isinstance(provider, HeuristicProvider)
    s = await provider.assess(SentimentInput(asset="bitcoin"), input_hash="h", now=NOW)
    assert isinstance(s, Sentiment) and s.provider == "heuristic" and not s.fallback


def test_asking_for_anthropic_without_a_key_warns_and_uses_the_heuristic(
    unconnected_redis: Redis,
) -> None:
    """MP_SENTIMENT_PROVIDER=anthropic without a key logs one warning and serves the rules."""
    with capture_logs() as logs:
        provider = build_provider(load_settings(sentiment_provider="anthropic"), unconnected_redis)
    assert isinstance(provider, HeuristicProvider)
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert "ANTHROPIC_API_KEY" in logs[0]["event"]


async def test_a_key_selects_anthropic_by_default(unconnected_redis: Redis) -> None:
    """With ANTHROPIC_API_KEY set and nothing else, the model provider is used."""
    settings = load_settings(ANTHROPIC_API_KEY="sk-ant-unit-test-key")
    provider = build_provider(settings, unconnected_redis)
    assert isinstance(provider, AnthropicProvider) and provider.name == "anthropic"
    await provider.aclose()
