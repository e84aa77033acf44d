"""The SDK adapter over real HTTP: tool answers parsed, every failure translated, key sent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from marketpulse_sentiment.claude import ClaudeClient
from marketpulse_sentiment.contract import MAX_OUTPUT_TOKENS, TOOL_NAME
from marketpulse_sentiment.errors import CallFailed
from tests.integration.sentiment.fake_anthropic import (
    API_KEY,
    OVERLOADED,
    FakeAnthropic,
    Reply,
    error_reply,
    text_reply,
    tool_reply,
)

ANSWER = {"label": "neutral", "score": 0.0, "confidence": 0.5, "summary": "Flat.", "drivers": []}


@pytest.fixture
async def client(fake_anthropic: FakeAnthropic) -> AsyncIterator[ClaudeClient]:
    c = ClaudeClient(
        api_key=API_KEY, model="claude-test", timeout_s=0.5, base_url=fake_anthropic.url
    )
    yield c
    await c.aclose()


async def test_a_tool_answer_and_its_usage_come_back(
    client: ClaudeClient, fake_anthropic: FakeAnthropic
) -> None:
    """The forced tool's input and the billed tokens are returned; the request is well-formed."""
    fake_anthropic.script(tool_reply(ANSWER, input_tokens=800, output_tokens=90))
    reply = await client.ask("system words", "user words")
    assert reply.tool_input == ANSWER and reply.tokens == 890
    (request,) = fake_anthropic.requests
    assert request["model"] == "claude-test"
    assert request["max_tokens"] == MAX_OUTPUT_TOKENS
    assert request["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert request["tools"][0]["input_schema"]["additionalProperties"] is False
    assert request["system"] == "system words"
    assert request["messages"] == [{"role": "user", "content": "user words"}]
    assert fake_anthropic.unauthorised == 0


async def test_a_text_answer_has_no_tool_input(
    client: ClaudeClient, fake_anthropic: FakeAnthropic
) -> None:
    """A model that wrote text (even JSON-looking) instead of calling the tool gives None."""
    fake_anthropic.script(text_reply('{"label": "bullish"'))
    assert (await client.ask("s", "u")).tool_input is None


@pytest.mark.parametrize(
    ("reply", "reason", "retryable", "retry_after"),
    [
        (error_reply(429, "rate_limit_error", retry_after="7"), "rate_limited", True, 7.0),
        (OVERLOADED, "overloaded", True, None),
        (error_reply(500, "api_error"), "server_error", True, None),
        (error_reply(401, "authentication_error"), "rejected", False, None),
        (error_reply(400, "invalid_request_error"), "rejected", False, None),
        (Reply(body=b"{not json"), "malformed_response", True, None),
    ],
    ids=["429", "529", "500", "401", "400", "bad-json-body"],
)
async def test_failures_are_translated_for_the_provider(
    client: ClaudeClient,
    fake_anthropic: FakeAnthropic,
    reply: Reply,
    reason: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    """Each failure becomes a CallFailed with its reason, retryability and retry-after."""
    fake_anthropic.script(reply)
    with pytest.raises(CallFailed) as caught:
        await client.ask("s", "u")
    assert caught.value.reason == reason
    assert caught.value.retryable is retryable
    assert caught.value.retry_after_s == retry_after
    assert fake_anthropic.calls == 1  # the SDK itself never retries


async def test_a_slow_answer_times_out_at_the_client_timeout(
    client: ClaudeClient, fake_anthropic: FakeAnthropic
) -> None:
    """An answer slower than the request timeout fails as a retryable, billed timeout."""
    fake_anthropic.script(Reply(body={}, delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(CallFailed) as caught:
        await client.ask("s", "u")
    assert time.monotonic() - started < 2.0
    assert caught.value.reason == "timeout" and caught.value.retryable and caught.value.billed


async def test_a_wrong_key_is_rejected_not_retried(fake_anthropic: FakeAnthropic) -> None:
    """The key is what the server checks: a wrong one is a non-retryable rejection."""
    wrong = ClaudeClient(
        api_key="sk-wrong-key", model="m", timeout_s=1, base_url=fake_anthropic.url
    )
    try:
        with pytest.raises(CallFailed) as caught:
            await wrong.ask("s", "u")
    finally:
        await wrong.aclose()
    assert caught.value.status == 401 and not caught.value.retryable
    assert fake_anthropic.unauthorised == 1
