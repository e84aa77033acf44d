"""Which candles the cache may hold and which to fetch next: pure rules, no I/O.

The cache (`keys.candles_key`) holds only closed candles aligned to their timeframe, one per
open time, without holes, newest `history_depth` (or more) of them. These functions keep
those invariants for any source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from marketpulse_common.events import Candle
from marketpulse_common.timeframes import Timeframe

# The gateway's default /candles page is 200 candles; even a small MP_HISTORY_DEPTH must not
# trim a cache below one full page once it has grown that far.
MIN_CANDLES_KEPT = 200


# A long outage leaves many closed candles unannounced. Consumers load their windows from the
# cache, so announcing the newest brings them up to date; replaying hundreds of stale closes
# would only delay it. A short gap (a restart, a replica joining) is replayed in full.
MAX_REPLAY = 100


@dataclass(frozen=True, slots=True)
class CandleFetch:
    """Fetch the candles opened after `since_open` (up to the newest closed one)."""

    since_open: int
    # The cached candles end before the fetched ones begin: drop them, or the cache has a hole.
    replace_older: bool


def history_start(tf: Timeframe, now: int, depth: int) -> int:
    """`since_open` that yields exactly the newest `depth` closed candles at `now`."""
    return tf.last_closed_open(now) - depth * tf.seconds


def plan_fetch(
    tf: Timeframe, now: int, depth: int, newest_cached: int | None, *, full: bool = False
) -> CandleFetch | None:
    """What to fetch so the cache ends at the newest closed candle; None when it already does.

    `full` re-fetches the whole history window even when the cache looks complete (the
    backfill at start: cheap to rewrite, and it heals whatever a crash left behind).
    """
    start = history_start(tf, now, depth)
    if newest_cached is None:
        return CandleFetch(start, replace_older=False)
    if newest_cached < start:
        return CandleFetch(start, replace_older=True)
    if full:
        return CandleFetch(start, replace_older=False)
    if newest_cached >= tf.last_closed_open(now):
        return None
    return CandleFetch(newest_cached, replace_older=False)


def is_closed(candle: Candle, tf: Timeframe, now: int) -> bool:
    return candle.t + tf.seconds <= now


def is_aligned(candle: Candle, tf: Timeframe) -> bool:
    return candle.t % tf.seconds == 0


def closed_aligned(
    candles: Iterable[Candle], tf: Timeframe, *, since_open: int, now: int
) -> list[Candle]:
    """The candles the cache may take: aligned, closed at `now`, opened after `since_open`,
    one per open time (the last one given wins), oldest first."""
    by_open = {
        c.t: c for c in candles if c.t > since_open and is_aligned(c, tf) and is_closed(c, tf, now)
    }
    return [by_open[t] for t in sorted(by_open)]


def left_behind(newest_open: int | None, tf: Timeframe, now: int, grace_s: int) -> bool:
    """Whether a cache whose newest candle opened at `newest_open` lacks one that closed more
    than `grace_s` ago (by when its scheduled run should have cached it). An empty cache is
    the backfill's to fill, not this check's."""
    return newest_open is not None and newest_open < tf.last_closed_open(now - grace_s)


@dataclass(frozen=True, slots=True)
class Hole:
    """Missing candles, opened from `first` to `last` inclusive, between two cached ones."""

    first: int
    last: int

    def count(self, tf: Timeframe) -> int:
        return (self.last - self.first) // tf.seconds + 1


def find_holes(opens: Sequence[int], tf: Timeframe) -> list[Hole]:
    """The runs of missing open times between cached candles (given oldest first)."""
    return [
        Hole(before + tf.seconds, after - tf.seconds)
        for before, after in pairwise(opens)
        if after - before > tf.seconds
    ]


def older_span(
    tf: Timeframe, now: int, depth: int, oldest_cached: int | None, reach: int | None
) -> CandleFetch | None:
    """The part of the history window older than the cache that the source can still give:
    fetch the candles opened after `since_open` up to the oldest cached one."""
    if oldest_cached is None:
        return None
    first_wanted = history_start(tf, now, depth) + tf.seconds
    if reach is not None:
        first_wanted = max(first_wanted, reach)
    if first_wanted >= oldest_cached:
        return None
    return CandleFetch(first_wanted - tf.seconds, replace_older=False)


def to_announce(pending: Sequence[Candle], *, announced_before: bool) -> list[Candle]:
    """Which cached-but-unannounced candles (oldest first) to publish, in order.

    A channel never announced before gets only its newest candle: the history is in the
    cache, not replayed as events.
    """
    if not announced_before or len(pending) > MAX_REPLAY:
        return list(pending[-1:])
    return list(pending)


def cache_cap(depth: int) -> int:
    """How many candles the retention job leaves in one cache."""
    return max(depth, MIN_CANDLES_KEPT)
