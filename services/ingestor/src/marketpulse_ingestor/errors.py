"""The exception tree of marketpulse_ingestor.

IngestorError
├── ConfigurationError     the settings ask for something the source cannot do (refused at start)
├── UnknownAssetError      the simulated market was asked about an asset it does not track
└── SourceError            the market source could not deliver; the job keeps what is cached
    └── UpstreamError      a CoinGecko call failed
        ├── CallRefused        not sent: budget spent, every replica paused, or circuit open
        ├── RateLimited        the upstream answered 429
        ├── UpstreamUnavailable  5xx, timeout, or the connection failed
        ├── MalformedResponse  a body that is not what the endpoint documents (HTML, bad JSON)
        └── RequestRejected    any other 4xx: our request is wrong; retrying will not help
"""

from __future__ import annotations

from marketpulse_common.errors import MarketpulseError


class IngestorError(MarketpulseError):
    """Root of every error raised by the ingestor."""


class ConfigurationError(IngestorError):
    """A setting names something the configured source cannot provide; one line, at start."""


class UnknownAssetError(IngestorError):
    """The simulated market was asked about an asset it does not track."""


class SourceError(IngestorError):
    """The market source failed; the job that asked skips this run and keeps what is cached."""


class UpstreamError(SourceError):
    """A call to the upstream API failed. `kind` is the status record's `last_error_kind`;
    the message names the endpoint's path template, never a URL."""

    kind = "upstream"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class CallRefused(UpstreamError):
    """The call was not made: the shared budget, a pause or the circuit said no."""

    kind = "budget"

    def __init__(self, message: str, *, retry_in_s: float | None) -> None:
        super().__init__(message)
        self.retry_in_s = retry_in_s


class RateLimited(UpstreamError):
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamUnavailable(UpstreamError):
    """5xx (`server_error`), no answer in time (`timeout`) or no connection (`transport`);
    `retry_after_s` when the answer said when to come back (a 503 may)."""

    kind = "server_error"

    def __init__(
        self, message: str, *, kind: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, kind=kind)
        self.retry_after_s = retry_after_s


class MalformedResponse(UpstreamError):
    kind = "malformed"


class RequestRejected(UpstreamError):
    kind = "client_error"
