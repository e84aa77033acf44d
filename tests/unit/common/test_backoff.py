"""Retry-After in all three forms, and exponential backoff with jitter."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpulse_common.backoff import MAX_PAUSE_S, backoff_s, retry_after_s

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def http_date(offset_s: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset_s, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), (" 7 ", 7.0), ("1.5", 1.5), ("0", 0.0), ("3600", 3600.0)],
)
def test_delta_seconds_are_honoured_at_any_length(header: str, seconds: float) -> None:
    """Seconds are taken as given, never capped at a minute."""
    assert retry_after_s({"retry-after": header}, NOW) == seconds


def test_an_http_date_is_the_time_until_then() -> None:
    """`Retry-After: <HTTP-date>` waits until that moment."""
    assert retry_after_s({"retry-after": http_date(90)}, NOW) == pytest.approx(90)


def test_the_obsolete_asctime_date_is_gmt() -> None:
    """RFC 9110 asks recipients to accept asctime dates, which carry no zone and mean GMT."""
    when = datetime.fromtimestamp(NOW + 90, UTC).strftime("%a %b %e %H:%M:%S %Y")
    assert when == "Sun Mar  1 12:01:30 2026"
    assert retry_after_s({"retry-after": when}, NOW) == pytest.approx(90)


def test_a_date_in_the_past_means_now() -> None:
    """A date already gone asks for no wait."""
    assert retry_after_s({"retry-after": http_date(-90)}, NOW) == 0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "retry-after": http_date(4)}, 4.0),
    ],
)
def test_retry_after_ms_wins_when_readable(headers: dict[str, str], seconds: float) -> None:
    """Milliseconds first; an unreadable retry-after-ms falls back to retry-after."""
    assert retry_after_s(headers, NOW) == pytest.approx(seconds)


def test_header_names_match_in_any_case() -> None:
    """An HTTP client's headers are case-insensitive, and so is the lookup through them."""
    headers = httpx.Headers({"Retry-After-Ms": "2000", "RETRY-AFTER": "9"})
    assert retry_after_s(headers, NOW) == 2.0


@pytest.mark.parametrize(
    "header", ["", "soon", "nan", "inf", "-4", "Mon, 99 Foo 2026", "Sun, 01 Mar 2026 12:00:00"]
)
def test_an_unreadable_header_leaves_the_wait_to_our_backoff(header: str) -> None:
    """Garbled, negative, or a date without its zone: None, so the caller backs off itself."""
    assert retry_after_s({"retry-after": header}, NOW) is None
    assert retry_after_s({"retry-after-ms": header}, NOW) is None


def test_no_header_is_no_advice() -> None:
    """Neither header: None."""
    assert retry_after_s({}, NOW) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": str(365 * 86_400)},
        {"retry-after": http_date(365 * 86_400)},
        {"retry-after-ms": str(365 * 86_400_000)},
    ],
)
def test_an_absurd_wait_is_capped_at_a_day(headers: dict[str, str]) -> None:
    """A year-long Retry-After pauses a day, not a year, in whichever form it comes."""
    assert retry_after_s(headers, NOW) == pytest.approx(MAX_PAUSE_S)


def test_backoff_doubles_up_to_its_cap() -> None:
    """With no randomness equal jitter waits base/2·2^n, then the cap's half and whole."""
    assert [backoff_s(n, 1.0, 8.0, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff_s(5, 1.0, 8.0, 1.0) == 8.0


def test_the_jitter_share_sets_the_random_part() -> None:
    """jitter=0.25: three quarters of each step fixed, one quarter drawn."""
    assert [backoff_s(n, 0.5, 2.0, 1.0, jitter=0.25) for n in (1, 2, 3, 4)] == [0.5, 1, 2, 2]
    assert backoff_s(2, 0.5, 2.0, 0.0, jitter=0.25) == 0.75
    assert backoff_s(3, 1.0, 60.0, 0.0, jitter=1.0) == 0.0


@given(
    attempt=st.integers(-5, 500),
    rand=st.floats(-1, 2, allow_nan=False),
    jitter=st.floats(-1, 2, allow_nan=False),
)
def test_backoff_stays_within_its_fixed_part_and_the_cap(
    attempt: int, rand: float, jitter: float
) -> None:
    """Never below the fixed share of the step, never above the cap, whatever comes in."""
    delay = backoff_s(attempt, 2.0, 60.0, rand, jitter=jitter)
    step = min(60.0, 2.0 * 2.0 ** min(max(attempt - 1, 0), 30))
    share = min(max(jitter, 0.0), 1.0)
    assert step * (1 - share) - 1e-9 <= delay <= 60.0
