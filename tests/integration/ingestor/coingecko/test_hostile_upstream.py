"""Hostile upstream bodies through the whole ingestor path: no crash, nothing bad cached.

Hypothesis writes the bodies; the fake CoinGecko serves them over HTTP to every attempt of a
refresh; then every cached candle and every ticker snapshot must still be a valid value.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from marketpulse_common.events import Candle, Ticker, decode_payload
from marketpulse_common.keys import Channel, ChannelKind, candles_key, upstream_gate_key
from marketpulse_common.publisher import read_snapshot
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.coingecko.models import MAX_PRICE
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.errors import SourceError
from marketpulse_ingestor.refresher import Markets, Refresher
from tests.coingecko_server import faults, market
from tests.coingecko_server.hostile import hostile_bodies
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.harness import cg_settings

pytestmark = pytest.mark.redis

ASSET = "bitcoin"
NOW = time.time()
# What each endpoint normally answers: the seed every hostile body is mutated from.
VALID = {
    "/coins/markets": [market.market_row(ASSET, NOW, 1.0)],
    "/ohlc": market.ohlc(ASSET, 7, 4 * 3600, NOW),
    "/market_chart": market.chart(ASSET, NOW - 86_400, NOW, NOW),
}
TIMEFRAME = {"/ohlc": Timeframe.H4, "/market_chart": Timeframe.M5}


@dataclass
class Rig:
    server: FakeCoinGecko
    redis: Redis
    source: CoinGeckoSource
    refresher: Refresher


@pytest.fixture
async def rig(coingecko: FakeCoinGecko, redis: Redis) -> AsyncIterator[Rig]:
    values = {
        "timeframes": ["5m", "4h"],
        "coingecko_budget_window_s": 3.0,  # retries back off 0.1 s, 0.2 s
        "coingecko_calls_per_minute": 1000,
    }
    config = cg_settings("redis://unused", coingecko, [ASSET], **values)
    source = await CoinGeckoSource.open(config, redis)
    markets = Markets((ASSET,), tuple(config.timeframes), config.history_depth)
    refresher = Refresher(redis, source, markets)
    await refresher.refresh_tickers(int(time.time()))  # a last good ticker to protect
    yield Rig(coingecko, redis, source, refresher)
    await source.aclose()
    for tf in config.timeframes:
        await redis.delete(candles_key(ASSET, tf))


async def assert_cache_is_sane(redis: Redis) -> None:
    now = time.time()
    for tf in (Timeframe.M5, Timeframe.H4):
        for member in await redis.zrange(candles_key(ASSET, tf), 0, -1):
            candle = decode_payload("candle/1", member)
            assert isinstance(candle, Candle)
            assert candle.t % tf.seconds == 0 and candle.t + tf.seconds <= now
            assert max(candle.o, candle.h, candle.l, candle.c) < MAX_PRICE
    snapshot = await read_snapshot(redis, Channel(ChannelKind.TICKER, ASSET))
    assert snapshot is not None
    ticker = snapshot.decode()
    assert isinstance(ticker, Ticker) and 0 < ticker.price < MAX_PRICE
    assert ticker.last_updated.timestamp() <= now + 300


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), endpoint=st.sampled_from(sorted(VALID)))
async def test_hostile_bodies_never_crash_the_ingestor_or_reach_the_cache(
    rig: Rig, data: st.DataObject, endpoint: str
) -> None:
    """Every attempt of a refresh gets the same hostile body: the refresh fails as a source
    error or stores only valid values; the last good ticker is never replaced by a bad one."""
    raw = data.draw(hostile_bodies(VALID[endpoint]))
    rig.server.clear_faults()
    await rig.redis.delete(upstream_gate_key(rig.server.host))  # no circuit left open
    rig.server.fail_next(faults.body(raw), times=3, path_contains=endpoint)
    now = int(time.time())
    try:
        if endpoint == "/coins/markets":
            await rig.refresher.refresh_tickers(now)
        else:
            tf = TIMEFRAME[endpoint]
            await rig.redis.delete(candles_key(ASSET, tf))  # so the refresh must fetch
            await rig.refresher.refresh_candles(now, [tf])
    except SourceError:
        pass  # a failed refresh is fine; a crash (any other exception) is not
    await assert_cache_is_sane(rig.redis)
