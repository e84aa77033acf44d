"""The seam between the service and whatever reads the market: one Protocol, chosen by setting.

A provider turns a `SentimentInput` into a validated `Sentiment`. It never touches Redis:
the worker decides when to ask (the input changed) and stores what comes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from marketpulse_common.events import Sentiment
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import SentimentProvider
from marketpulse_sentiment import heuristic
from marketpulse_sentiment.inputs import SentimentInput

log = get_logger(__name__)


class Provider(Protocol):
    @property
    def name(self) -> str:
        """Goes into the input hash, so switching providers reads every asset afresh."""
        ...

    async def assess(self, inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
        """A validated reading of `inp`, stamped with `input_hash` and `now`."""
        ...


class HeuristicProvider:
    """The deterministic rules of `heuristic`: free, offline, always available."""

    name = heuristic.PROVIDER

    async def assess(self, inp: SentimentInput, *, input_hash: str, now: datetime) -> Sentiment:
        return heuristic.assess(inp, input_hash=input_hash, now=now)


def select_provider(choice: SentimentProvider) -> Provider | None:
    """The provider for MP_SENTIMENT_PROVIDER; None means `off` (the service idles)."""
    if choice == "off":
        return None
    if choice == "anthropic":
        # The LLM provider is issue 5; until it lands, serve the rules rather than nothing.
        log.warning(
            "the anthropic sentiment provider is not available yet; using heuristic",
            requested="anthropic",
        )
    return HeuristicProvider()
