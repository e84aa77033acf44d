"""The exception tree of the client.

MarketPulseError
├── ApiError            the gateway answered with an error (problem+json): status, type,
│   │                   title, detail, retry_after (seconds, from Retry-After)
│   ├── AuthenticationError   401/403: a missing, unknown or revoked key, or a refused Origin
│   ├── NotFound              404: an asset that is not tracked, sentiment turned off
│   ├── InvalidRequest        422: a bad parameter or a timeframe that is not served
│   ├── RateLimited           429: over the rate limit; wait `retry_after`
│   └── Unavailable           503: no data yet or Redis down; wait `retry_after`
├── TransportError      no usable answer: connection refused, timeout, not JSON
├── StreamStopped       the gateway ended the stream for good (1008 policy, 1009 too big);
│                       reconnecting would only be refused again
└── ChannelError        the gateway refused one channel (`unknown_channel`, `too_many_channels`)
"""

from __future__ import annotations

from typing import Any


class MarketPulseError(Exception):
    """Root of every error the client raises."""


class ApiError(MarketPulseError):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type: str = "about:blank",  # RFC 9457's own name for the member
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.retry_after = retry_after
        self.body = body or {}


class AuthenticationError(ApiError):
    pass


class NotFound(ApiError):
    pass


class InvalidRequest(ApiError):
    pass


class RateLimited(ApiError):
    pass


class Unavailable(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFound,
    422: InvalidRequest,
    429: RateLimited,
    503: Unavailable,
}


def api_error_class(status: int) -> type[ApiError]:
    return _BY_STATUS.get(status, ApiError)


class TransportError(MarketPulseError):
    pass


class StreamStopped(MarketPulseError):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the gateway closed the stream ({code}): {reason}")
        self.code = code
        self.reason = reason


class ClientClosed(StreamStopped):
    """`aclose()` was called: the client does not connect again (make a new one)."""

    def __init__(self) -> None:
        MarketPulseError.__init__(self, "the client was closed (aclose); make a new one")
        self.code = None
        self.reason = "closed"


class ChannelError(MarketPulseError):
    def __init__(self, channel: str, code: str, message: str) -> None:
        super().__init__(f"{channel}: {code}: {message}")
        self.channel = channel
        self.code = code
        self.message = message
