"""The call budget's arithmetic: the sliding window, months and the circuit's states."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from marketpulse_ingestor.budget import (
    BudgetLimits,
    busiest_window,
    circuit_state,
    decide,
    month_of,
    seconds_left_in_month,
)


def test_a_call_is_admitted_while_the_window_has_room() -> None:
    """Fewer than `limit` calls in the window: admitted at once."""
    assert decide([1000, 2000], now_ms=2500, limit=3, log_window_ms=1000) == 0


def test_a_full_window_says_when_its_oldest_call_leaves() -> None:
    """At the limit the wait is until the oldest call in the window drops out of it."""
    assert decide([1000, 1200, 1900], now_ms=2000, limit=3, log_window_ms=1500) == 500


def test_calls_older_than_the_window_do_not_count() -> None:
    """A call exactly one window old has left it."""
    assert decide([1000, 1500], now_ms=2500, limit=2, log_window_ms=1500) == 0


@given(
    arrivals=st.lists(st.integers(0, 20_000), min_size=1, max_size=120),
    limit=st.integers(1, 6),
    window_ms=st.integers(100, 3000),
)
def test_no_window_anywhere_ever_holds_more_than_the_limit(
    arrivals: list[int], limit: int, window_ms: int
) -> None:
    """Callers arriving at any times and retrying when told: no window exceeds the limit."""
    admitted: list[int] = []
    for arrival in sorted(arrivals):
        now = max(arrival, admitted[-1] if admitted else 0)
        while (wait := decide(admitted, now, limit, window_ms)) > 0:
            now += wait
        admitted.append(now)
    assert busiest_window([float(t) for t in admitted], float(window_ms)) <= limit


def test_busiest_window_counts_half_open_windows() -> None:
    """Calls exactly one window apart are never in the same window."""
    assert busiest_window([0.0, 1.0, 2.0], 1.0) == 1
    assert busiest_window([0.0, 0.5, 0.99, 1.0], 1.0) == 3
    assert busiest_window([], 1.0) == 0


def test_the_log_window_is_a_little_longer_than_the_budget_window() -> None:
    """The guard keeps a late-arriving request inside the budget the upstream counts."""
    limits = BudgetLimits(calls_per_window=5, window_s=60, monthly_calls=None)
    assert limits.log_window_ms == 63_000
    assert limits.calls_per_minute == 5


def test_a_shortened_window_scales_the_rate_per_minute() -> None:
    """Four calls per 2 s window is 120 calls per real minute."""
    assert BudgetLimits(4, 2.0, None).calls_per_minute == 120


def test_months_are_utc_calendar_months() -> None:
    """A call at 23:59 UTC on 31 January counts against January; February 2028 has 29 days."""
    assert month_of(datetime(2026, 1, 31, 23, 59, tzinfo=UTC).timestamp()) == "2026-01"
    start = datetime(2028, 2, 1, tzinfo=UTC).timestamp()
    assert seconds_left_in_month(start) == 29 * 86_400
    assert seconds_left_in_month(start + 86_400 * 29 - 1) == 1


def test_circuit_states_follow_open_until() -> None:
    """No open_until: closed; before it: open; after it, until a success: half-open."""
    assert circuit_state(0, 5000) == "closed"
    assert circuit_state(6000, 5000) == "open"
    assert circuit_state(6000, 6000) == "half_open"
