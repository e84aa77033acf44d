"""Redis gone while the ingestor starts (a Redis Cluster failover of the node serving the
market clock or the backfill lease, or a restart): the ingestor waits it out and carries on.

Before this was handled, the backfill lease's release in the backfill's `finally` raised the
outage's ConnectionError out of `Ingestor.run` and the whole product stopped (the supervisor
stops everything when a service exits): the failover system test saw a master killed during
the backfill end the product.
"""

from __future__ import annotations

import asyncio

import pytest

from marketpulse_common.connection import create_redis
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.service import open_source_patiently
from marketpulse_ingestor.source import MarketSource
from tests.integration.ingestor.harness import running_ingestor, sim_settings, stream_length
from tests.waiting import eventually

pytestmark = pytest.mark.redis


class OutageAtBackfill:
    """A source that kills Redis the first time the backfill asks for the market time."""

    def __init__(self, inner: MarketSource, server: RedisServer) -> None:
        self._inner = inner
        self._server = server
        self.cut = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def market_time(self) -> int:
        if not self.cut:
            self.cut = True
            await asyncio.to_thread(self._server.kill)
        return await self._inner.market_time()


async def test_an_outage_during_the_backfill_does_not_stop_the_ingestor(
    redis_server: RedisServer, unique: str
) -> None:
    settings = sim_settings(redis_server.url, [unique], timeframes=["1h"])
    ticker = Channel(ChannelKind.TICKER, unique)
    wrapped: list[OutageAtBackfill] = []

    def wrap(inner: MarketSource) -> OutageAtBackfill:
        wrapped.append(OutageAtBackfill(inner, redis_server))
        return wrapped[0]

    async with running_ingestor(settings, "outage", wrap=wrap) as run:
        # The backfill is given up (its lease cannot even be handed back) and the jobs are
        # scheduled; before the fix the run ended here with the ConnectionError.
        await eventually(
            lambda: asyncio.sleep(0, run.task.done() or run.ingestor.jobs.running),
            timeout=30,
            what="the backfill to give up",
        )
        assert wrapped[0].cut
        assert not run.task.done(), run.task.exception()
        await asyncio.to_thread(redis_server.start)
        client = create_redis(redis_server.url, client_name="check")
        try:
            await eventually(
                lambda: stream_length(client, ticker), timeout=30, what="a ticker after the outage"
            )
        finally:
            await client.aclose()
        assert not run.task.done()


async def test_the_source_is_opened_once_redis_is_back(
    redis_server: RedisServer, unique: str
) -> None:
    """Redis unavailable as the ingestor starts: it retries opening its source (anchoring
    the market clock) instead of exiting, and stops promptly if asked meanwhile."""
    settings = sim_settings(redis_server.url, [unique], timeframes=["1h"])
    redis = create_redis(redis_server.url, client_name="opening")
    try:
        redis_server.kill()
        stop = asyncio.Event()
        opening = asyncio.create_task(open_source_patiently(settings, redis, stop))
        await asyncio.sleep(0)
        assert not opening.done()
        await asyncio.to_thread(redis_server.start)
        source = await asyncio.wait_for(opening, 30)
        assert source is not None
        assert await source.market_time() > 0
        await source.aclose()

        redis_server.kill()
        stop = asyncio.Event()
        opening = asyncio.create_task(open_source_patiently(settings, redis, stop))
        stop.set()
        assert await asyncio.wait_for(opening, 10) is None
    finally:
        await redis.aclose()
