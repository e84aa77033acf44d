"""Which candles the cache takes and what to fetch next."""

from __future__ import annotations

from marketpulse_common.events import Candle
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.candle_rules import (
    MAX_REPLAY,
    MIN_CANDLES_KEPT,
    CandleFetch,
    Hole,
    cache_cap,
    closed_aligned,
    find_holes,
    history_start,
    older_span,
    plan_fetch,
    to_announce,
)

H1 = Timeframe.H1
HOUR = 3600
# 10:30 market time on some day: the 10:00 candle is open, 09:00 is the newest closed one.
DAY = 1_700_006_400  # a UTC midnight
NOW = DAY + 10 * HOUR + 1800
NEWEST_CLOSED = DAY + 9 * HOUR


def candle(t: int, price: float = 100.0) -> Candle:
    return Candle(t=t, o=price, h=price + 1, l=price - 1, c=price, v=1.0)


def test_history_start_yields_exactly_depth_closed_candles() -> None:
    """Candles opened after history_start up to the newest closed one number `depth`."""
    start = history_start(H1, NOW, depth=5)
    assert start == NEWEST_CLOSED - 5 * HOUR
    assert len(range(start + HOUR, NEWEST_CLOSED + 1, HOUR)) == 5


def test_an_empty_cache_fetches_the_whole_history() -> None:
    """With nothing cached the plan is the history window, nothing to replace."""
    plan = plan_fetch(H1, NOW, 5, None)
    assert plan == CandleFetch(since_open=history_start(H1, NOW, 5), replace_older=False)


def test_a_current_cache_fetches_nothing() -> None:
    """When the newest closed candle is cached there is nothing to do."""
    assert plan_fetch(H1, NOW, 5, NEWEST_CLOSED) is None


def test_a_slightly_behind_cache_fetches_from_its_newest_candle() -> None:
    """A cache two candles behind fetches only the candles after its newest."""
    plan = plan_fetch(H1, NOW, 5, NEWEST_CLOSED - 2 * HOUR)
    assert plan == CandleFetch(since_open=NEWEST_CLOSED - 2 * HOUR, replace_older=False)


def test_a_cache_ending_exactly_where_history_starts_is_contiguous() -> None:
    """A cache whose newest candle is history_start joins the window without a hole."""
    start = history_start(H1, NOW, 5)
    assert plan_fetch(H1, NOW, 5, start) == CandleFetch(start, replace_older=False)


def test_a_cache_older_than_the_history_window_is_replaced() -> None:
    """A gap wider than the history depth refetches the window and drops the stale part."""
    start = history_start(H1, NOW, 5)
    assert plan_fetch(H1, NOW, 5, start - HOUR) == CandleFetch(start, replace_older=True)


def test_a_full_refresh_refetches_the_window_even_when_current() -> None:
    """The backfill rewrites the whole window even when the cache looks complete."""
    plan = plan_fetch(H1, NOW, 5, NEWEST_CLOSED, full=True)
    assert plan == CandleFetch(history_start(H1, NOW, 5), replace_older=False)


def test_the_open_candle_is_never_taken() -> None:
    """A candle still open at `now` (10:00 at 10:30) is dropped; the 09:00 one is kept."""
    kept = closed_aligned(
        [candle(NEWEST_CLOSED), candle(NEWEST_CLOSED + HOUR)], H1, since_open=0, now=NOW
    )
    assert [c.t for c in kept] == [NEWEST_CLOSED]


def test_a_candle_closing_exactly_now_is_closed() -> None:
    """A candle whose close time equals `now` counts as closed."""
    at_close = NEWEST_CLOSED + HOUR
    kept = closed_aligned([candle(NEWEST_CLOSED)], H1, since_open=0, now=at_close)
    assert [c.t for c in kept] == [NEWEST_CLOSED]


def test_misaligned_candles_are_dropped() -> None:
    """A candle not opening on a timeframe boundary never enters the cache."""
    kept = closed_aligned([candle(NEWEST_CLOSED - 60)], H1, since_open=0, now=NOW)
    assert kept == []


def test_candles_at_or_before_since_open_are_dropped() -> None:
    """Only candles opened strictly after since_open are taken."""
    given = [candle(NEWEST_CLOSED - HOUR), candle(NEWEST_CLOSED)]
    kept = closed_aligned(given, H1, since_open=NEWEST_CLOSED - HOUR, now=NOW)
    assert [c.t for c in kept] == [NEWEST_CLOSED]


def test_duplicates_collapse_to_the_last_given_and_come_out_sorted() -> None:
    """One candle per open time (the later one wins), oldest first."""
    given = [candle(NEWEST_CLOSED, 5.0), candle(NEWEST_CLOSED - HOUR), candle(NEWEST_CLOSED, 7.0)]
    kept = closed_aligned(given, H1, since_open=0, now=NOW)
    assert [(c.t, c.c) for c in kept] == [(NEWEST_CLOSED - HOUR, 100.0), (NEWEST_CLOSED, 7.0)]


def test_the_cache_cap_never_falls_below_one_page() -> None:
    """The cap is the history depth, but never under the gateway's default page."""
    assert cache_cap(50) == MIN_CANDLES_KEPT
    assert cache_cap(800) == 800


def test_a_channel_never_announced_gets_only_the_newest() -> None:
    """The first announcement is the newest candle, not the whole cached history."""
    pending = [candle(NEWEST_CLOSED - HOUR), candle(NEWEST_CLOSED)]
    assert to_announce(pending, announced_before=False) == [candle(NEWEST_CLOSED)]


def test_a_short_gap_is_announced_in_full_and_in_order() -> None:
    """Up to MAX_REPLAY missed closes are each announced, oldest first."""
    pending = [candle(NEWEST_CLOSED - i * HOUR) for i in reversed(range(MAX_REPLAY))]
    assert to_announce(pending, announced_before=True) == pending


def test_a_long_gap_announces_only_the_newest() -> None:
    """More than MAX_REPLAY missed closes: only the newest is announced."""
    pending = [candle(NEWEST_CLOSED - i * HOUR) for i in reversed(range(MAX_REPLAY + 1))]
    assert to_announce(pending, announced_before=True) == [candle(NEWEST_CLOSED)]


def test_nothing_pending_announces_nothing() -> None:
    """An up-to-date channel publishes nothing."""
    assert to_announce([], announced_before=True) == []
    assert to_announce([], announced_before=False) == []


def test_holes_are_the_runs_of_missing_opens_between_cached_candles() -> None:
    """Two missing hours, then one: two holes, each from its first to its last missing open."""
    opens = [DAY, DAY + HOUR, DAY + 4 * HOUR, DAY + 5 * HOUR, DAY + 7 * HOUR]
    holes = find_holes(opens, H1)
    assert holes == [Hole(DAY + 2 * HOUR, DAY + 3 * HOUR), Hole(DAY + 6 * HOUR, DAY + 6 * HOUR)]
    assert [h.count(H1) for h in holes] == [2, 1]
    assert find_holes([DAY, DAY + HOUR], H1) == []


def test_an_older_span_is_fetched_only_when_the_source_still_has_it() -> None:
    """A shallow cache extends back to its depth, as far as the source reaches, no further."""
    oldest = NEWEST_CLOSED - 2 * HOUR
    span = older_span(H1, NOW, 5, oldest, reach=None)
    assert span == CandleFetch(history_start(H1, NOW, 5), replace_older=False)
    reach = NEWEST_CLOSED - 3 * HOUR
    assert older_span(H1, NOW, 5, oldest, reach=reach) == CandleFetch(reach - HOUR, False)
    assert older_span(H1, NOW, 5, oldest, reach=oldest) is None
    assert older_span(H1, NOW, 5, None, reach=None) is None
