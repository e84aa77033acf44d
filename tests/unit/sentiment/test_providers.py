"""MP_SENTIMENT_PROVIDER picks the provider; anthropic falls back to the rules for now."""

from __future__ import annotations

from structlog.testing import capture_logs

from marketpulse_common.events import Sentiment
from marketpulse_sentiment.inputs import SentimentInput
from marketpulse_sentiment.providers import select_provider
from tests.unit.sentiment.inputs_factory import NOW


def test_off_selects_no_provider() -> None:
    """`off` means the service reads nothing."""
    assert select_provider("off") is None


async def test_heuristic_provider_returns_a_validated_sentiment() -> None:
    """The heuristic provider answers through the Provider interface."""
    provider = select_provider("heuristic")
    assert provider is not None and provider.name == "heuristic"
    s = await provider.assess(SentimentInput(asset="bitcoin"), input_hash="h", now=NOW)
    assert isinstance(s, Sentiment) and s.provider == "heuristic"


def test_anthropic_warns_and_uses_the_heuristic_until_it_arrives() -> None:
    """Asking for anthropic logs one clear warning and serves the heuristic."""
    with capture_logs() as logs:
        provider = select_provider("anthropic")
    assert provider is not None and provider.name == "heuristic"
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert "anthropic" in logs[0]["event"]
