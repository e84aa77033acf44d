"""The exception tree of marketpulse_common.

MarketpulseError
├── SettingsError          a setting is missing or invalid (one line, names the variable)
├── StreamError            a Redis stream operation failed in a way the caller must handle
│   └── PoisonMessage      a message that can never be processed (schema, decode); dead-letter it
└── LeaseLost              a lease this process held was taken by another (fencing)
"""

from __future__ import annotations


class MarketpulseError(Exception):
    """Root of every error raised by marketpulse code."""


class SettingsError(MarketpulseError):
    """A setting is invalid; the message is one line naming the variable."""


class StreamError(MarketpulseError):
    """A stream operation failed."""


class PoisonMessage(StreamError):
    """A message that will fail on every delivery; the consumer dead-letters it at once."""


class LeaseLost(MarketpulseError):
    """The lease expired or was taken over; the holder must stop its exclusive work."""
