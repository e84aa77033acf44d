"""The exception tree of the gateway (under marketpulse_common's MarketpulseError).

MarketpulseError
└── GatewayError
    ├── UnknownAsset        the asset is not one of MP_ASSETS                  → 404
    ├── UnservedTimeframe   the timeframe is valid but not one of MP_TIMEFRAMES → 422
    ├── NoData              the resource is known but nothing is cached yet     → 503 + Retry-After
    │   └── SentimentOff    …and sentiment is turned off, so nothing will come  → 404
    ├── StoreUnavailable    Redis did not answer (translated from RedisError)   → 503 + Retry-After
    └── ProtocolError       a WebSocket message we cannot act on                → an `error` frame

HTTP statuses live in problems.py; these exceptions only say what went wrong.
"""

from __future__ import annotations

from typing import Literal

from marketpulse_common.errors import MarketpulseError

# The `code` of a WebSocket `error` frame (DESIGN §7); clients switch on it, so it only grows.
ErrorCode = Literal[
    "bad_request",
    "unknown_op",
    "unknown_channel",
    "unavailable",
    "rate_limited",
    "too_many_channels",
]


class GatewayError(MarketpulseError):
    """Root of every error raised by the gateway."""


class UnknownAsset(GatewayError):
    def __init__(self, asset: str) -> None:
        super().__init__(f"asset {asset!r} is not tracked")
        self.asset = asset


class UnservedTimeframe(GatewayError):
    def __init__(self, tf: str, served: list[str]) -> None:
        super().__init__(f"timeframe tf={tf!r} is not served; use one of {', '.join(served)}")


class NoData(GatewayError):
    """Nothing is cached for this resource yet (the producers have not written it)."""


class SentimentOff(NoData):
    """No sentiment is cached and the deployment runs with MP_SENTIMENT_PROVIDER=off."""


class StoreUnavailable(GatewayError):
    """Redis could not be reached or did not answer in time."""


class ProtocolError(GatewayError):
    """A client frame that cannot be acted on; `code` is the `error` frame's code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        channel: str | None = None,
        channels: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.channel = channel
        # The channels of a subscribe refused as a whole.
        self.channels = channels
