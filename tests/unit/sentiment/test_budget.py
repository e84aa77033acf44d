"""Budget arithmetic: fixed hour windows, an upper token estimate, totals within both limits."""

from __future__ import annotations

import pytest

from marketpulse_sentiment.budget import (
    TOOL_OVERHEAD_TOKENS,
    WINDOW_S,
    BudgetLimits,
    Usage,
    admits,
    estimate_tokens,
    window_of,
)

LIMITS = BudgetLimits(calls_per_hour=10, tokens_per_hour=20_000)


def test_windows_are_clock_hours() -> None:
    """Every second of one UTC hour falls in the same window; the next hour is the next."""
    start = 1_735_786_800  # 2025-01-02 03:00:00 UTC
    assert window_of(start) == window_of(start + WINDOW_S - 0.001)
    assert window_of(start + WINDOW_S) == window_of(start) + 1


@pytest.mark.parametrize("text", ["plain English words " * 50, "数字" * 400, "🚀" * 100])
def test_the_token_estimate_bounds_any_text(text: str) -> None:
    """The estimate is at least one token per UTF-8 byte plus overhead and output."""
    estimate = estimate_tokens(len(text.encode()), 700)
    assert estimate == len(text.encode()) + TOOL_OVERHEAD_TOKENS + 700
    assert estimate >= len(text) + 700  # even one token per character fits


@pytest.mark.parametrize(
    ("calls", "tokens", "ok"),
    [(1, 100, True), (10, 20_000, True), (11, 100, False), (5, 20_001, False)],
)
def test_totals_are_admitted_only_within_both_limits(calls: int, tokens: int, ok: bool) -> None:
    """A window's totals, the new reservation included, must stay within calls and tokens."""
    assert admits(LIMITS, Usage(calls=calls, tokens=tokens)) is ok


def test_a_zero_budget_admits_nothing() -> None:
    """MP_SENTIMENT_HOURLY_CALLS=0 means the model is never asked."""
    assert not admits(BudgetLimits(0, 10_000), Usage(calls=1, tokens=1))
