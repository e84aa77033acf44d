"""The exception tree of the sentiment service.

SentimentError
├── ProviderUnavailable    the model was not asked or did not answer (interval, budget,
│                          cooldown, timeout, 429/5xx/529, transport); the worker keeps the
│                          last reading, so nobody else notices
├── InvalidAnswer          the model answered, but not within the output contract
├── CallFailed             one request to the model failed (retryable or not)
└── FeedError              a news feed could not be fetched or is not a feed we accept
"""

from __future__ import annotations

from marketpulse_common.errors import MarketpulseError


class SentimentError(MarketpulseError):
    """Root of every error raised by the sentiment service."""


# ProviderUnavailable.reason when another caller has the asset's turn (throttle.py).
INTERVAL = "interval"


class ProviderUnavailable(SentimentError):
    """No usable answer this time; `reason` is a short, stable word for logs and metrics."""

    def __init__(self, reason: str, detail: str = "", *, retry_after_s: float | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class InvalidAnswer(SentimentError):
    """The answer broke the contract; `problems` name what, never quote the answer back."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class CallFailed(SentimentError):
    """One model request failed; the provider decides whether to retry."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        billed: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
    ):
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        # An HTTP error status is not billed; a timeout may have been processed (and billed).
        self.billed = billed


class FeedError(SentimentError):
    """A feed was unreachable, too large, too slow, or not plain RSS/Atom."""
