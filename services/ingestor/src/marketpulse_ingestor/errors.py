"""The exception tree of marketpulse_ingestor.

IngestorError
└── SourceError            the market source could not deliver (upstream down, bad reply)
"""

from __future__ import annotations

from marketpulse_common.errors import MarketpulseError


class IngestorError(MarketpulseError):
    """Root of every error raised by the ingestor."""


class SourceError(IngestorError):
    """The market source failed; the job that asked skips this run and keeps what is cached."""
