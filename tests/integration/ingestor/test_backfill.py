"""The backfill at start: a full, aligned history per asset/timeframe, written idempotently."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind, candles_key, sim_clock_key
from marketpulse_common.publisher import read_snapshot
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.candle_rules import MAX_REPLAY
from marketpulse_ingestor.refresher import Markets, Refresher
from marketpulse_ingestor.simulated.clock import ClockAnchor
from marketpulse_ingestor.simulated.source import SimulatedSource
from tests.integration.ingestor.harness import FAST, published_candles, sim_settings

pytestmark = pytest.mark.redis

DEPTH = 60
TIMEFRAMES = [Timeframe.M5, Timeframe.H1, Timeframe.D1]


@pytest.fixture
def settings(redis_server: RedisServer, unique: str) -> Settings:
    return sim_settings(
        redis_server.url,
        [f"{unique}-a", f"{unique}-b"],
        timeframes=[tf.value for tf in TIMEFRAMES],
        history_depth=DEPTH,
    )


@pytest.fixture
async def source(private_redis: Redis, settings: Settings) -> AsyncIterator[SimulatedSource]:
    source = await SimulatedSource.open(private_redis, settings)
    yield source
    await source.aclose()


def refresher_for(redis: Redis, source: SimulatedSource, settings: Settings) -> Refresher:
    markets = Markets(tuple(settings.assets), tuple(settings.timeframes), settings.history_depth)
    return Refresher(redis, source, markets)


async def always() -> bool:
    return True


async def cached_opens(redis: Redis, asset: str, tf: Timeframe) -> list[int]:
    return [
        int(score)
        for _, score in await redis.zrange(candles_key(asset, tf), 0, -1, withscores=True)
    ]


async def test_backfill_caches_exactly_depth_aligned_closed_candles(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """Each cache holds history_depth consecutive aligned candles ending at the newest closed."""
    now = await source.market_time()
    await refresher_for(private_redis, source, settings).backfill(now, always)
    for asset in settings.assets:
        for tf in TIMEFRAMES:
            newest = tf.last_closed_open(now)
            expected = list(range(newest - (DEPTH - 1) * tf.seconds, newest + 1, tf.seconds))
            assert await cached_opens(private_redis, asset, tf) == expected, (asset, tf)


async def test_backfill_twice_changes_nothing(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """A second backfill at the same market time leaves identical caches and channels."""
    refresher = refresher_for(private_redis, source, settings)
    now = await source.market_time()
    await refresher.backfill(now, always)
    keys = [candles_key(a, tf) for a in settings.assets for tf in TIMEFRAMES]
    before = [await private_redis.zrange(key, 0, -1) for key in keys]
    await refresher.backfill(now, always)
    assert [await private_redis.zrange(key, 0, -1) for key in keys] == before
    for asset in settings.assets:
        for tf in TIMEFRAMES:
            channel = Channel(ChannelKind.CANDLES, asset, tf)
            assert await private_redis.xlen(channel.stream_key) == 1


async def test_backfill_publishes_only_the_newest_candle(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """The channel gets one event per asset/tf, the newest candle, with ver = its open time."""
    now = await source.market_time()
    await refresher_for(private_redis, source, settings).backfill(now, always)
    for asset in settings.assets:
        for tf in TIMEFRAMES:
            channel = Channel(ChannelKind.CANDLES, asset, tf)
            snapshot = await read_snapshot(private_redis, channel)
            assert snapshot is not None
            candle = snapshot.decode()
            assert isinstance(candle, Candle)
            assert candle.t == tf.last_closed_open(now)
            ver = await private_redis.hget(channel.snapshot_key, "ver")
            assert ver == str(tf.last_closed_open(now))


async def test_a_restart_backfill_announces_each_candle_closed_meanwhile(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """A backfill three hours later extends the caches and announces each new 1h candle."""
    refresher = refresher_for(private_redis, source, settings)
    now = await source.market_time()
    await refresher.backfill(now, always)
    later = now + 3 * Timeframe.H1.seconds
    await refresher.backfill(later, always)
    asset = settings.assets[0]
    opens = await cached_opens(private_redis, asset, Timeframe.H1)
    assert opens[-1] == Timeframe.H1.last_closed_open(later)
    assert opens == list(range(opens[0], opens[-1] + 1, Timeframe.H1.seconds))
    published = [p.candle.t for p in await published_candles(private_redis, asset, Timeframe.H1)]
    assert published == opens[-4:]


async def test_after_a_long_outage_only_the_newest_candle_is_announced(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """More closes missed than MAX_REPLAY: the cache is complete, the channel gets the newest."""
    m5 = Timeframe.M5
    settings = sim_settings(redis_server.url, [unique], timeframes=["5m"], history_depth=300)
    source = await SimulatedSource.open(private_redis, settings)
    try:
        refresher = refresher_for(private_redis, source, settings)
        now = await source.market_time()
        await refresher.backfill(now, always)
        later = now + (MAX_REPLAY + 5) * m5.seconds
        await refresher.backfill(later, always)
    finally:
        await source.aclose()
    published = [p.candle.t for p in await published_candles(private_redis, unique, m5)]
    assert published == [m5.last_closed_open(now), m5.last_closed_open(later)]
    opens = await cached_opens(private_redis, unique, m5)
    assert opens == list(range(opens[0], m5.last_closed_open(later) + 1, m5.seconds))


async def test_backfill_stops_when_told(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """When keep_going turns false (stop, or the lease was lost) no more caches are filled."""
    calls = 0

    async def twice() -> bool:
        nonlocal calls
        calls += 1
        return calls <= 2

    now = await source.market_time()
    await refresher_for(private_redis, source, settings).backfill(now, twice)
    filled = [
        (asset, tf)
        for asset in settings.assets
        for tf in TIMEFRAMES
        if await private_redis.exists(candles_key(asset, tf))
    ]
    assert len(filled) == 2


async def test_a_source_opened_long_after_the_anchor_serves_the_current_market(
    private_redis: Redis, settings: Settings
) -> None:
    """Restarting 100 market days after the clock was anchored backfills at today's time."""
    wall = time.time()
    origin = int(wall) - 100 * 86_400
    anchor = ClockAnchor(
        wall_anchor=wall, market_anchor=origin + 100 * 86_400, speed=FAST, origin=origin
    )
    await private_redis.set(sim_clock_key(), anchor.model_dump_json())
    source = await SimulatedSource.open(private_redis, settings)
    try:
        now = await source.market_time()
        assert now >= origin + 100 * 86_400
        await refresher_for(private_redis, source, settings).backfill(now, always)
        for tf in TIMEFRAMES:
            opens = await cached_opens(private_redis, settings.assets[0], tf)
            assert len(opens) == DEPTH
            assert opens[-1] == tf.last_closed_open(now)
    finally:
        await source.aclose()


async def test_ingest_to_stored_is_measured_for_candles_and_tickers(
    private_redis: Redis, source: SimulatedSource, settings: Settings
) -> None:
    """ingest → stored: one observation per fetch that wrote candles, one per new ticker."""
    family = "marketpulse_ingestor_ingest_to_stored_seconds_count"

    def count(kind: str) -> float:
        return REGISTRY.get_sample_value(family, {"kind": kind}) or 0.0

    candles, tickers = count("candles"), count("ticker")
    refresher = refresher_for(private_redis, source, settings)
    now = await source.market_time()
    await refresher.backfill(now, always)
    assert count("candles") == candles + len(settings.assets) * len(TIMEFRAMES)
    assert await refresher.refresh_tickers(now) == len(settings.assets)
    assert count("ticker") == tickers + len(settings.assets)
    assert await refresher.refresh_tickers(now) == 0  # unchanged: nothing stored, nothing timed
    assert count("ticker") == tickers + len(settings.assets)
