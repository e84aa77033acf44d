"""The thin adapter over the official SDK: one Messages request with a forced tool call.

Everything the SDK can raise is translated here into `CallFailed` (retryable or not, with
the provider's retry-after advice), so the provider above never sees an SDK type. The
client is built with explicit timeouts and `max_retries=0`: retries belong to the provider,
where their total time is bounded (see retry_policy.py).

The API key is handed to the SDK and nowhere else: it is never formatted into a message,
and the SDK sends it as a header that neither it nor httpx logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import anthropic
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam

from marketpulse_common.backoff import retry_after_s
from marketpulse_sentiment.contract import MAX_OUTPUT_TOKENS, TOOL_NAME, tool_definition
from marketpulse_sentiment.errors import CallFailed
from marketpulse_sentiment.retry_policy import is_retryable_status

# Connecting is quick or not happening; the request timeout covers the model's thinking.
CONNECT_TIMEOUT_S = 5.0
_STATUS_REASONS = {429: "rate_limited", 529: "overloaded"}


@dataclass(frozen=True, slots=True)
class ModelReply:
    tool_input: object | None  # what the model passed to the tool; None if it did not call it
    tokens: int | None  # input + output tokens the provider reported


class ModelClient(Protocol):
    async def ask(self, system: str, user: str) -> ModelReply: ...

    async def aclose(self) -> None: ...


def _tool_input(message: object) -> object | None:
    content = getattr(message, "content", None)
    for block in content if isinstance(content, list) else []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
            return getattr(block, "input", None)
    return None


def _tokens(message: object) -> int | None:
    usage = getattr(message, "usage", None)
    counts = [
        getattr(usage, name, None)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    ]
    numbers = [c for c in counts if isinstance(c, int) and c >= 0]
    return sum(numbers) if numbers else None


def translate(error: Exception) -> CallFailed:
    """The SDK's exception as a CallFailed the provider can act on."""
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        reason = _STATUS_REASONS.get(status, "server_error" if status >= 500 else "rejected")
        retry_after = retry_after_s(error.response.headers, time.time())
        return CallFailed(
            reason,
            retryable=is_retryable_status(status),
            billed=False,
            status=status,
            retry_after_s=retry_after,
        )
    if isinstance(error, anthropic.APITimeoutError):
        return CallFailed("timeout", retryable=True, billed=True)
    if isinstance(error, anthropic.APIConnectionError):
        return CallFailed("connection", retryable=True, billed=False)
    # A 200 whose body is not a Messages response (bad JSON, wrong shape): a broken proxy
    # or provider, treated like an outage rather than as the model's answer.
    return CallFailed("malformed_response", retryable=True, billed=True)


class ClaudeClient:
    def __init__(
        self, *, api_key: str, model: str, timeout_s: float, base_url: str | None = None
    ) -> None:
        self.model = model
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,  # None: ANTHROPIC_BASE_URL, else the SDK's default
            timeout=anthropic.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
            max_retries=0,
        )
        definition = tool_definition()
        self._tool = ToolParam(
            name=definition["name"],
            description=definition["description"],
            input_schema=definition["input_schema"],
        )

    async def ask(self, system: str, user: str) -> ModelReply:
        """One request; CallFailed on any failure."""
        messages: list[MessageParam] = [{"role": "user", "content": user}]
        try:
            message = await self._client.messages.create(
                model=self.model,
                max_tokens=MAX_OUTPUT_TOKENS,
                system=system,
                messages=messages,
                tools=[self._tool],
                tool_choice=ToolChoiceToolParam(type="tool", name=TOOL_NAME),
            )
        except (anthropic.APIError, ValueError) as e:
            raise translate(e) from e
        return ModelReply(tool_input=_tool_input(message), tokens=_tokens(message))

    async def aclose(self) -> None:
        await self._client.close()
