"""Candles and tickers built from CoinGecko answers match the upstream's market exactly."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from tests.coingecko_server import market
from tests.coingecko_server.server import FakeCoinGecko, Fault
from tests.integration.ingestor.harness import cg_settings

pytestmark = pytest.mark.redis

Opener = Callable[..., Awaitable[CoinGeckoSource]]


@pytest.fixture
async def open_source(redis: Redis, unique: str) -> AsyncIterator[Opener]:
    opened: list[CoinGeckoSource] = []

    async def open_(server: FakeCoinGecko, **overrides: Any) -> CoinGeckoSource:
        values = {"coingecko_calls_per_minute": 200, **overrides}
        settings = cg_settings("redis://unused", server, ["bitcoin", unique], **values)
        source = await CoinGeckoSource.open(settings, redis)
        opened.append(source)
        return source

    yield open_
    for source in opened:
        await source.aclose()


async def test_tickers_carry_the_upstream_row(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """Price, 24 h change/high/low, volume, market cap and last_updated come from the row."""
    source = await open_source(coingecko)
    now = time.time()
    tickers = {t.asset: t for t in await source.tickers(int(now))}
    row = market.market_row("bitcoin", now, coingecko.ticker_period_s)
    btc = tickers["bitcoin"]
    assert btc.price == row["current_price"]
    assert (btc.high_24h, btc.low_24h) == (row["high_24h"], row["low_24h"])
    assert btc.change_24h_pct == row["price_change_percentage_24h"]
    assert (btc.volume_24h, btc.market_cap) == (row["total_volume"], row["market_cap"])
    assert btc.last_updated.timestamp() == pytest.approx(now // 1, abs=1)
    assert len(coingecko.calls) == 1


async def test_four_hour_candles_are_the_upstream_ohlc_rows(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """Public 4h: each candle is an OHLC row re-keyed to its open; the one still forming, and
    one closed less than the upstream's 15-minute cache ago, are left out."""
    source = await open_source(coingecko)
    tf = Timeframe.H4
    now = int(time.time())
    since = tf.last_closed_open(now) - 10 * tf.seconds
    candles = await source.closed_candles("bitcoin", tf, since_open=since, now=now)
    assert candles, "no 4h candles"
    assert all(c.t + tf.seconds <= now for c in candles)
    newest = candles[-1]
    assert newest.t == tf.last_closed_open(now - 900)
    expected = market.candle("bitcoin", newest.t, tf.seconds, now)
    assert [newest.o, newest.h, newest.l, newest.c] == expected[1:]
    assert newest.v is None
    [call] = coingecko.calls
    assert call.path == "/coins/bitcoin/ohlc" and call.params["days"] == "7"


async def test_five_minute_candles_open_and_close_at_the_nearest_samples(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """5m: open and close are the 5-minutely samples nearest the candle's boundaries."""
    source = await open_source(coingecko)
    tf = Timeframe.M5
    now = int(time.time())
    since = tf.last_closed_open(now) - 6 * tf.seconds
    candles = await source.closed_candles("bitcoin", tf, since_open=since, now=now)
    assert [c.t for c in candles][-6:] == [since + k * tf.seconds for k in range(1, 7)]
    for candle in candles[-6:-1]:  # the newest may close at the request-time point
        open_sample = candle.t + market.FIVE_MIN_OFFSET
        close_sample = candle.t + tf.seconds + market.FIVE_MIN_OFFSET
        assert candle.o == float(market.price_at("bitcoin", open_sample))
        assert candle.c == float(market.price_at("bitcoin", close_sample))
        assert candle.v is None


async def test_one_chart_call_serves_5m_and_15m(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """Both come from the same 5-minutely chart: asked once per asset."""
    source = await open_source(coingecko, timeframes=["5m", "15m"])
    now = int(time.time())
    for tf in (Timeframe.M5, Timeframe.M15):
        since = tf.last_closed_open(now) - 4 * tf.seconds
        assert await source.closed_candles("bitcoin", tf, since_open=since, now=now)
    assert len(coingecko.calls) == 1


async def test_a_slow_chart_call_still_serves_the_next_timeframe(
    coingecko: FakeCoinGecko, redis: Redis, unique: str
) -> None:
    """The shared chart is fresh from when it arrived, not from when it was asked for: a call
    slower than the memo's life (a budget wait, a slow answer) is not paid twice."""
    assets = ["bitcoin", unique]
    timeframes = {"timeframes": ["5m", "15m"], "coingecko_calls_per_minute": 200}
    settings = cg_settings("redis://unused", coingecko, assets, **timeframes)
    source = await CoinGeckoSource.open(settings, redis, memo_s=0.5)
    coingecko.fail_next(Fault(delay_s=1.0, passthrough=True))
    now = int(time.time())
    try:
        for tf in (Timeframe.M5, Timeframe.M15):
            since = tf.last_closed_open(now) - 4 * tf.seconds
            assert await source.closed_candles("bitcoin", tf, since_open=since, now=now)
    finally:
        await source.aclose()
    assert len(coingecko.calls) == 1


async def test_daily_candles_span_their_hourly_samples(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """Public 1d: from hourly samples, the day's high and low are the extremes among them."""
    source = await open_source(coingecko)
    tf = Timeframe.D1
    now = int(time.time())
    since = tf.last_closed_open(now) - 20 * tf.seconds
    candles = await source.closed_candles("bitcoin", tf, since_open=since, now=now)
    day = candles[-2]
    hours = [day.t + market.HOURLY_OFFSET + 3600 * k for k in range(-1, 25)]
    prices = [float(p) for p in market.price_at("bitcoin", hours)]
    assert day.o == prices[1] and day.c == prices[25]
    assert day.h == max(prices[1:26]) and day.l == min(prices[1:26])
    assert {c.path for c in coingecko.calls} == {"/coins/bitcoin/market_chart/range"}


async def test_pro_builds_1h_and_4h_from_real_hourly_candles(
    pro_coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """Pro: 1h is the hourly OHLC as is; 4h folds four of them."""
    source = await open_source(pro_coingecko)
    now = int(time.time())
    h1, h4 = Timeframe.H1, Timeframe.H4
    hourly = await source.closed_candles(
        "bitcoin", h1, since_open=h1.last_closed_open(now) - 3 * 3600, now=now
    )
    assert [c.o for c in hourly] == [market.candle("bitcoin", c.t, 3600, now)[1] for c in hourly]
    since = h4.last_closed_open(now) - 2 * h4.seconds
    [*_, four] = await source.closed_candles("bitcoin", h4, since_open=since, now=now)
    parts = [market.candle("bitcoin", four.t + 3600 * k, 3600, now) for k in range(4)]
    assert (four.o, four.c) == (parts[0][1], parts[-1][4])
    assert four.h == max(p[2] for p in parts) and four.l == min(p[3] for p in parts)
    assert all(c.params.get("interval") == "hourly" for c in pro_coingecko.calls)


async def test_history_beyond_reach_costs_no_call(
    coingecko: FakeCoinGecko, open_source: Opener
) -> None:
    """5m candles from two days ago cannot be had: nothing is asked, nothing returned."""
    source = await open_source(coingecko)
    tf = Timeframe.M5
    until = int(time.time()) - 2 * 86_400
    assert await source.closed_candles("bitcoin", tf, since_open=until - 3600, now=until) == []
    assert coingecko.calls == []
