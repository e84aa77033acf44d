"""How each candle timeframe is built from what a CoinGecko plan can give. Pure.

CoinGecko offers no endpoint that returns arbitrary candles. What it has:

- `/coins/{id}/ohlc?days=N`: real candles, but their size follows `days` (1–2 days: 30 min,
  3–30 days: 4 h, 31+: 4 days). Timestamps are candle *close* times; no volume. Paid plans may
  ask for `interval=hourly` (up to 90 days) or `interval=daily`.
- `/coins/{id}/market_chart?days=N` and `/market_chart/range?from&to`: price samples, 5-minutely
  for the last day, hourly for 2–90 days, daily beyond; public and demo keys reach back 365
  days. Their `total_volumes` are *rolling 24 h* sums at each sample, not per-interval volume.

From those, per timeframe:

| tf  | public, demo                                | pro                                    |
|-----|---------------------------------------------|----------------------------------------|
| 1m  | not offered: refused at start               | same                                   |
| 5m  | sampled, `market_chart?days=1` (5-minutely), | same                                   |
|     | the last 24 h only                          |                                        |
| 15m | sampled from the same 5-minutely chart      | same                                   |
| 1h  | sampled, `market_chart/range` hourly         | real: `ohlc?interval=hourly`,          |
|     | samples (chunks ≤ 89 days), 365 days back   | 90 days back                           |
| 4h  | real: `ohlc?days=7/14/30`, 30 days back      | 4 real hourly candles each, 90 days    |
| 1d  | sampled, `market_chart/range` hourly         | same, the coin's whole history         |
|     | samples (24 a day), 365 days back           |                                        |

A *sampled* candle is drawn from price samples: open and close are the samples nearest its
open and close times (so each candle opens where the one before closed), high and low the
extremes of the samples between. High and low are therefore only as wide as the samples
catch: close to the truth for 1d (24 samples), a line for 1h from hourly samples. A candle is
left out (a hole, retried by gap repair) when no sample lies near one of its ends.

Volume: every CoinGecko candle has `v = null`. The OHLC endpoint has no volume, and the chart
volumes are trailing 24 h sums sampled at irregular times: a per-candle figure cannot be
recovered from them, and a made-up one would mislead every volume indicator downstream (which
skip volume when it is null). The 24 h volume is on the ticker (`volume_24h`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.plan import PlanFacts

DAY_S = 86_400
HOUR_S = 3600
# Upstream switches a range to daily samples beyond 90 days; stay a day inside that.
MAX_RANGE_S = 89 * DAY_S
# `days` values each OHLC query accepts.
OHLC_4H_DAYS = (7, 14, 30)  # 3–30 days gives 4-hour candles
OHLC_HOURLY_DAYS = (1, 7, 14, 30, 90)


class Feed(StrEnum):
    RECENT_SAMPLES = "recent_samples"  # market_chart?days=1: 5-minutely, the last day
    HOURLY_SAMPLES = "hourly_samples"  # market_chart/range: hourly (5-minutely near now)
    OHLC_4H = "ohlc_4h"  # ohlc?days=7|14|30: 4-hour candles
    OHLC_HOURLY = "ohlc_hourly"  # ohlc?interval=hourly (paid plans)


@dataclass(frozen=True, slots=True)
class FeedFacts:
    # After a close, how long until the upstream has the candle's last data.
    settle_s: int
    # How far back the feed reaches; None = the plan's whole history.
    reach_s: int | None
    # Sampled feeds: how far from a candle's boundary its open/close sample may lie.
    sample_tolerance_s: int = 0
    # Real-candle feeds: the size of the candles the upstream returns.
    candle_s: int = 0


@dataclass(frozen=True, slots=True)
class Recipe:
    tf: Timeframe
    feed: Feed
    facts: FeedFacts

    @property
    def sampled(self) -> bool:
        return self.feed in (Feed.RECENT_SAMPLES, Feed.HOURLY_SAMPLES)

    def reach_open(self, now: float) -> int | None:
        """The oldest candle open time this recipe can still deliver at `now`."""
        if self.facts.reach_s is None:
            return None
        return self.tf.floor(now - self.facts.reach_s) + self.tf.seconds


@dataclass(frozen=True, slots=True)
class Request:
    """One upstream GET. `endpoint` is the path template: the only form that is logged."""

    endpoint: str
    path: str
    params: tuple[tuple[str, str], ...]


def _feed_facts(feed: Feed, facts: PlanFacts) -> FeedFacts:
    history_s = None if facts.history_days is None else facts.history_days * DAY_S
    return {
        # The chart's last point is the price at request time, so a minute after a close
        # the candle's close is known.
        Feed.RECENT_SAMPLES: FeedFacts(60, DAY_S, sample_tolerance_s=300),
        Feed.HOURLY_SAMPLES: FeedFacts(300, history_s, sample_tolerance_s=HOUR_S),
        # OHLC is cached upstream for 15 minutes (a finished day appears at 00:35 UTC).
        Feed.OHLC_4H: FeedFacts(900, 30 * DAY_S, candle_s=4 * HOUR_S),
        Feed.OHLC_HOURLY: FeedFacts(900, 90 * DAY_S, candle_s=HOUR_S),
    }[feed]


def _feed_for(facts: PlanFacts, tf: Timeframe) -> Feed | None:
    if tf in (Timeframe.M5, Timeframe.M15):
        return Feed.RECENT_SAMPLES
    if tf is Timeframe.H1:
        return Feed.OHLC_HOURLY if facts.native_intervals else Feed.HOURLY_SAMPLES
    if tf is Timeframe.H4:
        return Feed.OHLC_HOURLY if facts.native_intervals else Feed.OHLC_4H
    if tf is Timeframe.D1:
        return Feed.HOURLY_SAMPLES
    return None  # 1m: the finest CoinGecko data is 5-minutely


def recipe_for(facts: PlanFacts, tf: Timeframe) -> Recipe | None:
    """How `tf` is built on this plan; None when it cannot be."""
    feed = _feed_for(facts, tf)
    return None if feed is None else Recipe(tf, feed, _feed_facts(feed, facts))


def unsupported_timeframes(facts: PlanFacts, timeframes: list[Timeframe]) -> list[Timeframe]:
    return [tf for tf in timeframes if recipe_for(facts, tf) is None]


def requests_for(
    recipe: Recipe, asset: str, vs_currency: str, *, since_open: int, until: int, now: float
) -> list[Request]:
    """The calls that cover the candles opened after `since_open` and closed by `until`
    (no call for a span the feed cannot reach)."""
    first_open = since_open + recipe.tf.seconds
    reach = recipe.reach_open(now)
    if reach is not None:
        first_open = max(first_open, reach)
    if first_open + recipe.tf.seconds > until:
        return []
    base = (("vs_currency", vs_currency),)
    if recipe.feed is Feed.RECENT_SAMPLES:
        return [_request("/coins/{id}/market_chart", asset, (*base, ("days", "1")))]
    if recipe.feed is Feed.HOURLY_SAMPLES:
        tolerance = recipe.facts.sample_tolerance_s
        return _ranges(asset, base, first_open - tolerance, min(until + tolerance, int(now)))
    choices = OHLC_4H_DAYS if recipe.feed is Feed.OHLC_4H else OHLC_HOURLY_DAYS
    days = _days_covering(now - first_open, choices)
    params: tuple[tuple[str, str], ...] = (*base, ("days", str(days)))
    if recipe.feed is Feed.OHLC_HOURLY:
        params = (*params, ("interval", "hourly"))
    return [_request("/coins/{id}/ohlc", asset, params)]


def _request(endpoint: str, asset: str, params: tuple[tuple[str, str], ...]) -> Request:
    return Request(endpoint=endpoint, path=endpoint.format(id=asset), params=params)


def _ranges(asset: str, base: tuple[tuple[str, str], ...], start: int, end: int) -> list[Request]:
    if end <= start:
        return []
    chunks = math.ceil((end - start) / MAX_RANGE_S)
    width = math.ceil((end - start) / chunks)
    endpoint = "/coins/{id}/market_chart/range"
    return [
        _request(endpoint, asset, (*base, ("from", str(lo)), ("to", str(min(end, lo + width)))))
        for lo in range(start, end, width)
    ]


def _days_covering(span_s: float, choices: tuple[int, ...]) -> int:
    """The smallest `days` choice whose window reaches `span_s` back (the largest if none)."""
    for days in choices:
        if days * DAY_S >= span_s:
            return days
    return choices[-1]
