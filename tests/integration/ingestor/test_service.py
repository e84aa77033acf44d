"""The running ingestor: scheduled candles and tickers, one replica per job, clean stops."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import pairwise

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Ticker
from marketpulse_common.keys import Channel, ChannelKind, candles_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.source import MarketSource
from tests.integration.ingestor.harness import (
    Published,
    Running,
    published_candles,
    running_ingestor,
    sim_settings,
    stream_length,
)
from tests.waiting import eventually

pytestmark = pytest.mark.redis

TIMEFRAMES = [Timeframe.M5, Timeframe.H1]


async def has_published(redis: Redis, asset: str, tf: Timeframe, count: int) -> bool:
    return len(await published_candles(redis, asset, tf)) >= count


async def has_run(running: Running, job: str) -> bool:
    return running.ingestor.jobs.runs[job] > 0


def assert_in_order_once_each(entries: Sequence[Published], tf: Timeframe) -> None:
    opens = [entry.candle.t for entry in entries]
    # After the backfill's single newest candle, every closed candle follows: none repeated,
    # none skipped, none out of order.
    assert all(b - a == tf.seconds for a, b in pairwise(opens)), opens


async def test_new_candles_are_cached_and_published_in_order(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """Each closed candle is published once, in order, ver = open time, prev linking entries."""
    settings = sim_settings(redis_server.url, [unique], timeframes=[tf.value for tf in TIMEFRAMES])
    async with running_ingestor(settings, "solo"):
        for tf in TIMEFRAMES:
            await eventually(
                lambda tf=tf: has_published(private_redis, unique, tf, 4),
                what=f"4 published {tf} candles",
            )
    for tf in TIMEFRAMES:
        entries = await published_candles(private_redis, unique, tf)
        assert_in_order_once_each(entries, tf)
        assert [e.prev for e in entries] == ["", *(e.id for e in entries[:-1])]
        channel = Channel(ChannelKind.CANDLES, unique, tf)
        assert await private_redis.hget(channel.snapshot_key, "ver") == str(entries[-1].candle.t)
        # Every published candle is the cached one (consumers load windows from the cache).
        cached = await private_redis.zrangebyscore(
            candles_key(unique, tf), entries[0].candle.t, "+inf"
        )
        assert cached[: len(entries)] == [e.candle.model_dump_json() for e in entries]


async def test_two_replicas_publish_each_candle_once_and_share_the_jobs(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """With two instances every candle is published once and each job runs on one of them."""
    assets = [f"{unique}-a", f"{unique}-b"]
    settings = sim_settings(redis_server.url, assets, timeframes=[tf.value for tf in TIMEFRAMES])
    async with (
        running_ingestor(settings, "replica-1") as one,
        running_ingestor(settings, "replica-2") as two,
    ):
        for asset in assets:
            for tf in TIMEFRAMES:
                await eventually(
                    lambda a=asset, tf=tf: has_published(private_redis, a, tf, 4),
                    what=f"4 published {asset} {tf} candles",
                )
        runs = [one.ingestor.jobs.runs, two.ingestor.jobs.runs]
    for asset in assets:
        for tf in TIMEFRAMES:
            assert_in_order_once_each(await published_candles(private_redis, asset, tf), tf)
    for job in ("tickers", "candles"):
        assert sorted(r[job] for r in runs)[0] == 0, f"{job} ran on both replicas: {runs}"
        assert sum(r[job] for r in runs) > 0


async def test_a_stopping_replica_hands_its_jobs_over_at_once(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """Stopping releases the leases: the other replica runs the jobs well inside the TTL."""
    settings = sim_settings(redis_server.url, [unique], timeframes=["1h"])
    async with running_ingestor(settings, "first") as first:
        await eventually(lambda: has_run(first, "tickers"), what="the first replica to run")
        async with running_ingestor(settings, "second") as second:
            await first.stopped()
            await eventually(
                lambda: has_run(second, "tickers"),
                timeout=3.0,  # the lease TTL is 5 s: only a release explains a takeover this fast
                what="the second replica to take over",
            )


class SlowTickers:
    """A source whose first ticker fetch is still running when the stop arrives."""

    def __init__(self, inner: MarketSource) -> None:
        self._inner = inner
        self.entered = asyncio.Event()
        self.stop_seen = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def tickers(self, now: int) -> list[Ticker]:
        self.entered.set()
        await self.stop_seen.wait()
        await asyncio.sleep(0.3)  # still busy well after the stop was requested
        return await self._inner.tickers(now)


async def test_stop_lets_the_running_job_finish(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """A stop waits for the ticker run in flight; its ticker is published, not cancelled."""
    settings = sim_settings(redis_server.url, [unique], timeframes=["1h"])
    ticker = Channel(ChannelKind.TICKER, unique)
    slow: list[SlowTickers] = []

    def wrap(inner: MarketSource) -> SlowTickers:
        slow.append(SlowTickers(inner))
        return slow[0]

    async with running_ingestor(settings, "draining", wrap=wrap) as run:
        source = slow[0]
        await asyncio.wait_for(source.entered.wait(), 10)
        assert await stream_length(private_redis, ticker) == 0
        run.stop.set()
        source.stop_seen.set()
        await asyncio.wait_for(run.task, 10)
    assert await stream_length(private_redis, ticker) == 1


async def test_tickers_are_published_every_second(
    private_redis: Redis, redis_server: RedisServer, unique: str
) -> None:
    """Each run publishes every asset's ticker on ticker:{asset}, newer each time."""
    assets = [f"{unique}-a", f"{unique}-b"]
    settings = sim_settings(redis_server.url, assets, timeframes=["1h"])
    channels = [Channel(ChannelKind.TICKER, asset) for asset in assets]

    async def ticked_thrice() -> bool:
        return all([await stream_length(private_redis, c) >= 3 for c in channels])

    async with running_ingestor(settings, "ticking"):
        await eventually(ticked_thrice, what="three tickers per asset")
    for channel in channels:
        entries = await private_redis.xrange(channel.stream_key)
        tickers = [Ticker.model_validate_json(fields["d"]) for _, fields in entries]
        assert {t.asset for t in tickers} == {channel.asset}
        times = [t.last_updated for t in tickers]
        assert times == sorted(set(times))
