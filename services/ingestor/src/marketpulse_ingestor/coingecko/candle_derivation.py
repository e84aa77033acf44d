"""Candles from validated upstream data: sampled prices, real candles, and sums of them. Pure.

See timeframe_recipes for which timeframe comes from which. Every function returns aligned
candles oldest first; whether a candle has closed is decided by the caller's clock
(candle_rules.closed_aligned), except that a sampled candle is only built once its close is
*known* (see `sampled_candles`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from pydantic import ValidationError

from marketpulse_common.events import Candle
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.models import OhlcRow


def _dedupe(samples: Sequence[tuple[int, float]]) -> tuple[list[float], list[float]]:
    """Times (s) and prices, sorted by time; of equal times the last sample wins."""
    by_time = {ms / 1000: price for ms, price in samples}
    times = sorted(by_time)
    return times, [by_time[t] for t in times]


def _nearest(times: Sequence[float], at: float, tolerance: float) -> int | None:
    """Index of the sample nearest `at` (the earlier on a tie), if within `tolerance`."""
    i = bisect_left(times, at)
    best: int | None = None
    for j in (i - 1, i):
        near = 0 <= j < len(times) and abs(times[j] - at) <= tolerance
        if near and (best is None or abs(times[j] - at) < abs(times[best] - at)):
            best = j
    return best


def sampled_candles(
    samples: Sequence[tuple[int, float]],
    tf: Timeframe,
    *,
    tolerance_s: float,
    final_until: float,
) -> list[Candle]:
    """Candles of `tf` drawn from [ms, price] samples.

    A candle's open and close are the samples nearest its open and close times (within
    `tolerance_s`), its high and low the extremes of the samples from one to the other. Its
    close is known once a sample at or after the close time exists (samples arrive in time
    order, so none nearer can follow), or once the close is before `final_until` (the
    upstream has had time to publish everything up to it).
    """
    times, prices = _dedupe(samples)
    if len(times) < 2:
        return []
    candles: list[Candle] = []
    for t in range(tf.floor(times[0]), tf.floor(times[-1]) + 1, tf.seconds):
        close_at = t + tf.seconds
        if close_at > times[-1] and close_at > final_until:
            break
        first = _nearest(times, t, tolerance_s)
        last = _nearest(times, close_at, tolerance_s)
        if first is None or last is None or first >= last:
            continue  # the samples leave this candle's open or close unknown: a hole
        span = prices[first : last + 1]
        candles.append(Candle(t=t, o=span[0], h=max(span), l=min(span), c=span[-1], v=None))
    return candles


def native_candles(rows: Sequence[OhlcRow], candle_s: int) -> list[Candle]:
    """Upstream OHLC rows (stamped with their close time) as candles keyed by open time.

    Rows whose open is not on a `candle_s` boundary are left out: the candle still forming is
    often stamped with the request time rather than its close.
    """
    by_open: dict[int, Candle] = {}
    for close_ms, o, h, low, c in rows:
        if close_ms % 1000:
            continue
        t = close_ms // 1000 - candle_s
        if t % candle_s or t < 0:
            continue
        try:
            by_open[t] = Candle(t=t, o=o, h=h, l=low, c=c, v=None)
        except ValidationError:
            continue  # parse_ohlc checked the range already; belt and braces
    return [by_open[t] for t in sorted(by_open)]


def aggregate(candles: Sequence[Candle], part_s: int, tf: Timeframe) -> list[Candle]:
    """Candles of `tf` from complete runs of smaller aligned candles of `part_s` seconds.

    A bucket with any part missing is left out rather than built from what is there: a 4 h
    candle from three hours would carry a wrong close or range.
    """
    parts_per_candle = tf.seconds // part_s
    buckets: dict[int, dict[int, Candle]] = {}
    for candle in candles:
        buckets.setdefault(tf.floor(candle.t), {})[candle.t] = candle
    built: list[Candle] = []
    for t in sorted(buckets):
        parts = [buckets[t][k] for k in sorted(buckets[t])]
        if len(parts) != parts_per_candle:
            continue
        built.append(
            Candle(
                t=t,
                o=parts[0].o,
                h=max(p.h for p in parts),
                l=min(p.l for p in parts),
                c=parts[-1].c,
                v=None,
            )
        )
    return built
