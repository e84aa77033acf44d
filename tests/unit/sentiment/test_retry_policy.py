"""Retries back off, honour retry-after, and never wait past the deadline."""

from __future__ import annotations

import pytest

from marketpulse_sentiment.retry_policy import (
    DEFAULT_COOLDOWN_S,
    MAX_COOLDOWN_S,
    REJECTED_COOLDOWN_S,
    RetryPolicy,
    cooldown_s,
    is_retryable_status,
)

POLICY = RetryPolicy(max_retries=3, base_delay_s=0.5, max_delay_s=2.0)


def test_backoff_doubles_up_to_its_cap() -> None:
    """Without advice the waits are 0.5, 1, 2 s (capped); the jitter draws a quarter of each."""
    waits = [POLICY.delay(n, None, remaining_s=100) for n in (1, 2, 3)]
    assert waits == [0.5, 1.0, 2.0]
    assert POLICY.delay(2, None, remaining_s=100, rand=0.0) == 0.75


def test_retries_stop_after_max_retries() -> None:
    """Retry number max_retries + 1 is not made."""
    assert POLICY.delay(4, None, remaining_s=100) is None
    assert RetryPolicy(max_retries=0).delay(1, None, remaining_s=100) is None


def test_retry_after_is_honoured_within_the_deadline() -> None:
    """The provider's retry-after replaces the backoff, unless it ends past the deadline."""
    assert POLICY.delay(1, 3.0, remaining_s=5) == 3.0
    assert POLICY.delay(1, 30.0, remaining_s=5) is None
    assert POLICY.delay(3, None, remaining_s=1.5) is None


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (409, True), (429, True), (500, True), (503, True), (529, True),
     (400, False), (401, False), (403, False), (404, False), (413, False)],
)  # fmt: skip
def test_only_transient_statuses_are_retried(status: int, retryable: bool) -> None:
    """Rate limits, timeouts and server errors (529 overloaded too) are worth another try."""
    assert is_retryable_status(status) is retryable


def test_cooldowns_follow_advice_within_bounds() -> None:
    """A cooldown takes the provider's advice, bounded; a rejected request pauses longest."""
    assert cooldown_s(None) == DEFAULT_COOLDOWN_S
    assert cooldown_s(120.0) == 120.0
    assert cooldown_s(0.0) == 1.0
    assert cooldown_s(10**9) == MAX_COOLDOWN_S
    assert cooldown_s(7200.0) == 7200.0  # a two-hour retry-after is two hours
    assert MAX_COOLDOWN_S == 86_400.0
    assert cooldown_s(None, rejected=True) == REJECTED_COOLDOWN_S
