"""The seam between the service and whatever reads the market: one Protocol, chosen by setting.

A provider turns a `SentimentInput` into a validated `Sentiment`, or raises
ProviderUnavailable when it cannot this time (the worker then keeps the last reading). It
never publishes: the worker decides when to ask (the input changed) and stores the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis

from marketpulse_common.events import Sentiment
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.anthropic_provider import AnthropicProvider
from marketpulse_sentiment.budget import BudgetLimits
from marketpulse_sentiment.budget_store import CallBudget
from marketpulse_sentiment.claude import ClaudeClient
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.retry_policy import RetryPolicy
from marketpulse_sentiment.throttle import CallThrottle

log = get_logger(__name__)


class Provider(Protocol):
    @property
    def name(self) -> str:
        """Goes into the input hash, so switching providers reads every asset afresh."""
        ...

    async def assess(self, inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
        """A validated reading of `inp`, stamped with `input_hash` and `now`."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds (HTTP connections)."""
        ...


class HeuristicProvider:
    """The deterministic rules of `heuristic`: free, offline, always available."""

    name = heuristic.PROVIDER

    async def assess(self, inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
        return heuristic.assess(inp, input_hash=input_hash, now=now)

    async def aclose(self) -> None:
        return None


def anthropic_provider(
    settings: Settings, redis: Redis, *, base_url: str | None = None
) -> AnthropicProvider:
    """The Claude provider with every bound from settings (`base_url` None: the SDK's)."""
    assert settings.anthropic_api_key is not None  # checked by build_provider
    client = ClaudeClient(
        api_key=settings.anthropic_api_key.get_secret_value(),
        model=settings.anthropic_model,
        timeout_s=settings.anthropic_timeout_s,
        base_url=base_url,
    )
    limits = BudgetLimits(settings.sentiment_hourly_calls, settings.sentiment_hourly_tokens)
    return AnthropicProvider(
        client,
        CallThrottle(redis, settings.sentiment_min_interval_s),
        CallBudget(redis, limits),
        model=settings.anthropic_model,
        retry=RetryPolicy(max_retries=settings.anthropic_max_retries),
        deadline_s=effective_deadline_s(settings),
    )


def effective_deadline_s(settings: Settings) -> float:
    """MP_SENTIMENT_DEADLINE_S, capped below 90 % of MP_CLAIM_IDLE_MS.

    An assessment that outlived the claim-idle time would let another replica reclaim the
    same event and pay for a second model call; lowering claim-idle (for faster failover)
    therefore shortens the deadline rather than failing every service's start.
    """
    cap = 0.9 * settings.claim_idle_ms / 1000
    if settings.sentiment_deadline_s > cap:
        log.warning(
            "sentiment deadline capped below the claim-idle time",
            configured_s=settings.sentiment_deadline_s,
            effective_s=cap,
        )
        return cap
    return settings.sentiment_deadline_s


def build_provider(
    settings: Settings, redis: Redis, *, base_url: str | None = None
) -> Provider | None:
    """The provider for MP_SENTIMENT_PROVIDER; None means `off` (the service idles)."""
    choice = settings.sentiment
    if choice == "off":
        return None
    if choice == "anthropic":
        if settings.anthropic_api_key is not None:
            return anthropic_provider(settings, redis, base_url=base_url)
        log.warning(
            "MP_SENTIMENT_PROVIDER=anthropic needs ANTHROPIC_API_KEY; using the heuristic",
            requested="anthropic",
        )
    return HeuristicProvider()
