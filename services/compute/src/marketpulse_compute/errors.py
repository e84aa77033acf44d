"""The exception tree of marketpulse_compute.

ComputeError
├── WindowNotReady     the event's candle is not in the cache yet; retried by the consumer
└── InvalidWindow      the cached window cannot be used as it is (bad member, repeated time)
"""

from __future__ import annotations

from marketpulse_common.errors import MarketpulseError


class ComputeError(MarketpulseError):
    """Root of every error raised by the compute service."""


class WindowNotReady(ComputeError):
    """The candle an event announces is not cached yet (the writer is behind); try again."""


class InvalidWindow(ComputeError):
    """The cached candles cannot form a window; retried, then dead-lettered with the reason."""
