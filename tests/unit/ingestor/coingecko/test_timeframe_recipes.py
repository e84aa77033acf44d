"""Which CoinGecko calls build which timeframe on which plan."""

from __future__ import annotations

import itertools

import pytest

from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.plan import PLANS
from marketpulse_ingestor.coingecko.timeframe_recipes import (
    DAY_S,
    MAX_RANGE_S,
    Feed,
    Recipe,
    recipe_for,
    requests_for,
    unsupported_timeframes,
)

NOW = 1_790_000_000.0
PUBLIC, PRO = PLANS["public"], PLANS["pro"]


def recipe(plan: str, tf: Timeframe) -> Recipe:
    found = recipe_for(PLANS[plan], tf)  # type: ignore[index]
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("plan", "tf", "feed"),
    [
        ("public", Timeframe.M5, Feed.RECENT_SAMPLES),
        ("public", Timeframe.M15, Feed.RECENT_SAMPLES),
        ("public", Timeframe.H1, Feed.HOURLY_SAMPLES),
        ("public", Timeframe.H4, Feed.OHLC_4H),
        ("public", Timeframe.D1, Feed.HOURLY_SAMPLES),
        ("demo", Timeframe.H4, Feed.OHLC_4H),
        ("pro", Timeframe.M5, Feed.RECENT_SAMPLES),
        ("pro", Timeframe.H1, Feed.OHLC_HOURLY),
        ("pro", Timeframe.H4, Feed.OHLC_HOURLY),
        ("pro", Timeframe.D1, Feed.HOURLY_SAMPLES),
    ],
)
def test_each_timeframe_comes_from_the_best_feed_of_its_plan(
    plan: str, tf: Timeframe, feed: Feed
) -> None:
    """Real candles where the plan has them at that size; price samples otherwise."""
    assert recipe(plan, tf).feed is feed


def test_one_minute_candles_are_not_offered_by_any_plan() -> None:
    """CoinGecko's finest data is 5-minutely: 1m is unsupported everywhere."""
    for facts in PLANS.values():
        assert unsupported_timeframes(facts, [Timeframe.M1, Timeframe.M5]) == [Timeframe.M1]


def test_five_minute_candles_come_from_the_one_day_chart() -> None:
    """5m: one market_chart?days=1 call, whatever the span asked for within the day."""
    since = Timeframe.M5.floor(NOW) - 10 * 300
    [request] = requests_for(
        recipe("public", Timeframe.M5), "bitcoin", "usd", since_open=since, until=int(NOW), now=NOW
    )
    assert request.path == "/coins/bitcoin/market_chart"
    assert request.endpoint == "/coins/{id}/market_chart"
    assert dict(request.params) == {"vs_currency": "usd", "days": "1"}


def test_a_span_beyond_the_feeds_reach_costs_no_call() -> None:
    """5m candles of two days ago are out of the 1-day chart: nothing is asked."""
    until = int(NOW - 2 * DAY_S)
    assert (
        requests_for(
            recipe("public", Timeframe.M5),
            "bitcoin",
            "usd",
            since_open=until - 3000,
            until=until,
            now=NOW,
        )
        == []
    )


def test_long_hourly_history_is_asked_for_in_chunks_that_stay_hourly() -> None:
    """300 days of 1d candles: ranges of at most 89 days that tile the span, no gaps."""
    tf = Timeframe.D1
    since = tf.floor(NOW) - 300 * DAY_S
    requests = requests_for(
        recipe("public", tf), "ethereum", "usd", since_open=since, until=int(NOW), now=NOW
    )
    spans = [(int(dict(r.params)["from"]), int(dict(r.params)["to"])) for r in requests]
    assert len(spans) == 4
    assert all(0 < hi - lo <= MAX_RANGE_S for lo, hi in spans)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert spans[0][0] <= since + tf.seconds - 3600 and spans[-1][1] == int(NOW)
    assert {r.endpoint for r in requests} == {"/coins/{id}/market_chart/range"}


def test_keyless_history_stops_at_365_days() -> None:
    """Asking 500 days back on the public plan asks only for what it may have."""
    tf = Timeframe.D1
    requests = requests_for(
        recipe("public", tf),
        "bitcoin",
        "usd",
        since_open=tf.floor(NOW) - 500 * DAY_S,
        until=int(NOW),
        now=NOW,
    )
    oldest = min(int(dict(r.params)["from"]) for r in requests)
    assert oldest >= NOW - 365 * DAY_S - DAY_S


@pytest.mark.parametrize(("days_back", "days"), [(3, "7"), (10, "14"), (20, "30"), (60, "30")])
def test_four_hour_candles_ask_the_smallest_ohlc_window_that_covers(
    days_back: int, days: str
) -> None:
    """ohlc?days=7|14|30 gives 4 h candles; the least data that covers the span is asked."""
    tf = Timeframe.H4
    [request] = requests_for(
        recipe("public", tf),
        "solana",
        "usd",
        since_open=tf.floor(NOW - days_back * DAY_S),
        until=int(NOW),
        now=NOW,
    )
    assert request.path == "/coins/solana/ohlc"
    assert dict(request.params) == {"vs_currency": "usd", "days": days}


def test_pro_hourly_candles_ask_for_the_paid_interval() -> None:
    """On pro, 1h and 4h come from ohlc?interval=hourly."""
    [request] = requests_for(
        recipe("pro", Timeframe.H1),
        "bitcoin",
        "eur",
        since_open=Timeframe.H1.floor(NOW) - 5 * 3600,
        until=int(NOW),
        now=NOW,
    )
    assert dict(request.params) == {"vs_currency": "eur", "days": "1", "interval": "hourly"}


def test_reach_is_the_oldest_open_still_deliverable() -> None:
    """The 4h OHLC reaches 30 days back; the pro 1d history has no bound."""
    assert (
        recipe("public", Timeframe.H4).reach_open(NOW)
        == Timeframe.H4.floor(NOW - 30 * DAY_S) + 4 * 3600
    )
    assert recipe("pro", Timeframe.D1).reach_open(NOW) is None
