"""The simulated source does all market work on one thread of its own.

The market's arrays (megabytes per asset, re-made at each market day) must be allocated by
the same thread every time: on the event loop's shared pool a read could land on a fresh
thread, whose new malloc arena kept the whole path a second time (a one-off +43 MiB step of
the ingestor's RSS in the soak, at the first market midnight).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from redis.asyncio import Redis

from marketpulse_dev.embedded_redis import RedisServer
from marketpulse_ingestor.simulated import market
from marketpulse_ingestor.simulated.source import SimulatedSource
from tests.integration.ingestor.harness import sim_settings

pytestmark = pytest.mark.redis


async def test_every_read_runs_on_the_one_simulator_thread(
    private_redis: Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    real_ticker = market.SimulatedMarket.ticker

    def recording_ticker(self: market.SimulatedMarket, asset: str) -> object:
        threads.add(threading.current_thread().name)
        return real_ticker(self, asset)

    monkeypatch.setattr(market.SimulatedMarket, "ticker", recording_ticker)
    source = await SimulatedSource.open(private_redis, sim_settings(redis_server.url, ["bitcoin"]))
    try:
        now = await source.market_time()

        async def busy_pool() -> None:  # keeps the loop's default pool starting threads
            await asyncio.to_thread(threading.Event().wait, 0.05)

        await asyncio.gather(
            *(source.tickers(now + i) for i in range(20)), *(busy_pool() for _ in range(8))
        )
    finally:
        await source.aclose()
    assert len(threads) == 1 and next(iter(threads)).startswith("simulator"), threads
