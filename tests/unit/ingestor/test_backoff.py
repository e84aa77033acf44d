"""Retry-After in both forms, and backoff with jitter."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpulse_ingestor.backoff import MAX_PAUSE_S, backoff_s, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), (" 7 ", 7.0), ("1.5", 1.5), ("0", 0.0), ("-4", 0.0), ("3600", 3600.0)],
)
def test_delta_seconds_are_honoured_at_any_length(header: str, seconds: float) -> None:
    """Seconds are taken as given (never capped at a minute); negatives mean now."""
    assert parse_retry_after(header, NOW) == seconds


def test_an_http_date_is_the_time_until_then() -> None:
    """`Retry-After: <HTTP-date>` waits until that moment."""
    when = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(90)


def test_a_date_in_the_past_means_now() -> None:
    """A date already gone asks for no wait."""
    when = datetime.fromtimestamp(NOW - 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == 0


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2026"])
def test_an_unreadable_header_leaves_the_wait_to_our_backoff(header: str | None) -> None:
    """Absent or garbled: None, so the caller backs off on its own."""
    assert parse_retry_after(header, NOW) is None


def test_an_absurd_wait_is_capped_at_a_day() -> None:
    """A year-long Retry-After pauses a day, not a year."""
    assert parse_retry_after(str(365 * 86_400), NOW) == MAX_PAUSE_S


def test_backoff_doubles_up_to_its_cap() -> None:
    """With no randomness the delays are base/2·2^n, then the cap's half and whole."""
    assert [backoff_s(n, 1.0, 8.0, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff_s(5, 1.0, 8.0, 1.0) == 8.0


@given(attempt=st.integers(-5, 500), rand=st.floats(-1, 2, allow_nan=False))
def test_backoff_stays_between_half_and_all_of_its_delay(attempt: int, rand: float) -> None:
    """Equal jitter: never below half the delay, never above the cap."""
    delay = backoff_s(attempt, 2.0, 60.0, rand)
    assert 1.0 <= delay <= 60.0
