"""What one WebSocket connection may ask of the gateway, and how fast. Pure: time is passed in.

| limit                            | default          | beyond it                           |
|----------------------------------|------------------|-------------------------------------|
| client message size              | 16 KiB           | close 1009 (MP_WS_MAX_MESSAGE_BYTES) |
| channels per connection          | 100              | error too_many_channels             |
|                                  |                  | (MP_WS_MAX_CHANNELS)                |
| client messages                  | 10/s, burst 50   | error rate_limited                  |
| channels subscribed              | 20/s, burst 100  | error rate_limited                  |
| refused messages ("strikes")     | 10, one forgiven | close 1008 (abuse)                  |
|                                  | every 2 s        |                                     |
| unsent bytes queued for a client | 1 MiB            | close 4008 "slow" (MP_WS_QUEUE_BYTES) |

Every `error` frame counts as a strike except unknown_channel (a typo, or an asset dropped
from MP_ASSETS) and unavailable (Redis, not the client).

A subscribe costs one token per channel it names, because each channel is a Redis read and a
snapshot sent (none when it is answered `unavailable`, which clients retry); the subscribe
burst equals the largest subscribe op, so a dashboard can take everything it shows in one
message and re-subscribe after a reconnect without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketpulse_common.settings import Settings


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-connection rates: defaults for production; tests tighten them."""

    messages_per_s: float = 10.0
    message_burst: int = 50
    channels_per_s: float = 20.0
    channel_burst: int = 100
    strikes: int = 10
    strikes_forgiven_per_s: float = 0.5


@dataclass(frozen=True, slots=True)
class StreamLimits:
    max_channels: int
    queue_bytes: int
    max_message_bytes: int
    rates: RateLimits

    @classmethod
    def from_settings(cls, settings: Settings, rates: RateLimits) -> StreamLimits:
        return cls(
            max_channels=settings.ws_max_channels,
            queue_bytes=settings.ws_queue_bytes,
            max_message_bytes=settings.ws_max_message_bytes,
            rates=rates,
        )


class TokenBucket:
    """`capacity` tokens, refilled at `per_s`; a request takes `cost` tokens or is refused."""

    __slots__ = ("_capacity", "_per_s", "_stamp", "_tokens")

    def __init__(self, capacity: float, per_s: float, now: float) -> None:
        if capacity <= 0 or per_s < 0:
            raise ValueError("a bucket needs a positive capacity and a non-negative rate")
        self._capacity = float(capacity)
        self._per_s = per_s
        self._tokens = float(capacity)
        self._stamp = now

    def take(self, cost: float, now: float) -> bool:
        # max(): a clock that steps back must not drain the bucket.
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._per_s)
        self._stamp = now
        if cost > self._tokens:
            return False
        self._tokens -= cost
        return True

    def give_back(self, cost: float) -> None:
        """Return what a request took when it was not served after all."""
        self._tokens = min(self._capacity, self._tokens + cost)


class ConnectionGuard:
    """The rate limits of one connection, and the count of rules it broke."""

    __slots__ = ("_channels", "_messages", "_strikes")

    def __init__(self, rates: RateLimits, now: float) -> None:
        self._messages = TokenBucket(rates.message_burst, rates.messages_per_s, now)
        self._channels = TokenBucket(rates.channel_burst, rates.channels_per_s, now)
        self._strikes = TokenBucket(rates.strikes, rates.strikes_forgiven_per_s, now)

    def admit_message(self, now: float) -> bool:
        return self._messages.take(1, now)

    def admit_subscribe(self, channels: int, now: float) -> bool:
        return self._channels.take(channels, now)

    def refund_subscribe(self, channels: int) -> None:
        """A subscribe answered `unavailable` costs nothing: clients are told to retry it."""
        self._channels.give_back(channels)

    def strike(self, now: float) -> bool:
        """Record a rejected message; False once the client has broken the rules too often."""
        return self._strikes.take(1, now)
