"""Staleness: a pure function of channel kind, timeframe and age."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketpulse_common.keys import ChannelKind
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.freshness import (
    CANDLE_GRACE_S,
    SENTIMENT_MAX_AGE_S,
    TICKER_MAX_AGE_S,
    freshness,
    is_stale,
    max_age_s,
    oldest,
)


@pytest.mark.parametrize(
    ("kind", "tf", "expected"),
    [
        (ChannelKind.TICKER, None, TICKER_MAX_AGE_S),
        (ChannelKind.SENTIMENT, None, SENTIMENT_MAX_AGE_S),
        (ChannelKind.CANDLES, Timeframe.M5, 600 + CANDLE_GRACE_S),
        (ChannelKind.INDICATORS, Timeframe.H1, 7200 + CANDLE_GRACE_S),
        (ChannelKind.FORECAST, Timeframe.D1, 2 * 86400 + CANDLE_GRACE_S),
    ],
)
def test_thresholds(kind: ChannelKind, tf: Timeframe | None, expected: float) -> None:
    """Each kind has its documented threshold; per-candle kinds scale with the timeframe."""
    assert max_age_s(kind, tf) == expected


def test_stale_only_past_the_threshold() -> None:
    """A value exactly at the threshold is fresh; one past it is stale."""
    assert not is_stale(ChannelKind.TICKER, None, TICKER_MAX_AGE_S)
    assert is_stale(ChannelKind.TICKER, None, TICKER_MAX_AGE_S + 0.001)


def test_per_candle_kind_needs_a_timeframe() -> None:
    """Asking about a per-candle kind without a timeframe is a programming error."""
    with pytest.raises(ValueError, match="timeframe"):
        max_age_s(ChannelKind.INDICATORS, None)


def test_freshness_of_a_value() -> None:
    """as_of is the production time in UTC and age counts from it."""
    fresh = freshness(ChannelKind.TICKER, None, produced_at=1_700_000_000.0, now=1_700_000_010.0)
    assert fresh.as_of == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert fresh.age_s == 10.0
    assert not fresh.stale


def test_future_timestamps_have_zero_age() -> None:
    """A producer clock slightly ahead of ours never yields a negative age."""
    assert freshness(ChannelKind.TICKER, None, produced_at=105.0, now=100.0).age_s == 0.0


def test_oldest_part_speaks_for_the_body() -> None:
    """A body of several parts takes the oldest part's time and is stale if any part is."""
    new = freshness(ChannelKind.TICKER, None, produced_at=1000.0, now=1000.0)
    old_fresh = freshness(ChannelKind.SENTIMENT, None, produced_at=900.0, now=1000.0)
    stale = freshness(ChannelKind.TICKER, None, produced_at=950.0, now=950.0 + 1e6)
    combined = oldest([new, old_fresh])
    assert combined is not None
    assert combined.as_of == old_fresh.as_of
    assert not combined.stale
    assert oldest([new, stale]) is not None
    assert oldest([new, stale]).stale  # type: ignore[union-attr]
    assert oldest([]) is None
