"""The ingestor process: backfill at start, then scheduled refreshes, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.connection import create_redis
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.lease import Lease
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_ingestor.errors import IngestorError, SourceError
from marketpulse_ingestor.refresher import Markets, Refresher
from marketpulse_ingestor.schedule import JobSpec, LeasedScheduler
from marketpulse_ingestor.simulated_source import SimulatedSource
from marketpulse_ingestor.source import MarketSource

log = get_logger(__name__)

SERVICE = "ingestor"

# The contract: a ticker every wall second; candles are checked as often, so one that closes
# is cached and announced within a second (the simulator at speed 300 closes a 5m candle
# every second). Retention is housekeeping: every 30 s is plenty for streams of thousands.
TICKERS = JobSpec("tickers", interval_s=1.0, lease_ttl_s=5.0)
CANDLES = JobSpec("candles", interval_s=1.0, lease_ttl_s=5.0)
RETENTION = JobSpec("retention", interval_s=30.0, lease_ttl_s=90.0, jitter_s=5.0)
# The backfill renews its lease before each asset/timeframe, so this only has to outlast
# the slowest single one (a deep 1d history from a slow upstream).
BACKFILL_LEASE_TTL_MS = 60_000
# Inside lifecycle.DRAIN_TIMEOUT_S, so Redis is still closed cleanly after a slow last run.
JOB_DRAIN_TIMEOUT_S = 5.0


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run one ingestor instance until `stop` is set."""
    redis = create_redis(settings.redis_dsn, client_name=SERVICE)
    try:
        source = await open_source(settings, redis)
        try:
            await Ingestor(settings, redis, source).run(stop)
        finally:
            await source.aclose()
    finally:
        await redis.aclose()


async def open_source(settings: Settings, redis: Redis) -> MarketSource:
    if settings.source == "simulated":
        return await SimulatedSource.open(redis, settings)
    raise IngestorError(f"MP_SOURCE={settings.source} is not implemented yet")


class Ingestor:
    def __init__(
        self, settings: Settings, redis: Redis, source: MarketSource, *, instance: str | None = None
    ) -> None:
        self.instance = instance or instance_id(SERVICE)
        self._redis = redis
        self._source = source
        markets = Markets(
            assets=tuple(settings.assets),
            timeframes=tuple(settings.timeframes),
            history_depth=settings.history_depth,
        )
        self._refresher = Refresher(redis, source, markets)
        self.jobs = LeasedScheduler(redis, owner=self.instance)

    async def run(self, stop: asyncio.Event) -> None:
        info: dict[str, object] = {"source": self._source.name}
        beacon = asyncio.create_task(run_beacon(self._redis, SERVICE, self.instance, stop, info))
        log.info("ingestor starting", instance=self.instance, source=self._source.name)
        try:
            await self._backfill(stop)
            if not stop.is_set():
                self._schedule()
                await stop.wait()
        finally:
            await self.jobs.stop(JOB_DRAIN_TIMEOUT_S)
            beacon.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beacon
            log.info("ingestor stopped", instance=self.instance)

    def _schedule(self) -> None:
        self.jobs.start()
        self.jobs.add(TICKERS, self._tickers)
        self.jobs.add(CANDLES, self._candles)
        self.jobs.add(RETENTION, self._refresher.enforce_retention)

    async def _backfill(self, stop: asyncio.Event) -> None:
        lease = Lease(self._redis, f"{SERVICE}:backfill", self.instance, BACKFILL_LEASE_TTL_MS)
        if await lease.acquire() is None:
            # Another replica is filling the caches; our candle job would only repeat it.
            log.info("backfill is running on another replica; skipping it here")
            return

        async def keep_going() -> bool:
            return not stop.is_set() and await lease.acquire() is not None

        try:
            now = await self._source.market_time()
            written = await self._refresher.backfill(now, keep_going)
            log.info("backfill done", candles=written)
        except (RedisError, SourceError) as e:
            # Not fatal: the candle job fills any cache it finds empty.
            log.warning("backfill failed; the candle job will fill the caches", error=str(e))
        finally:
            await lease.release()

    async def _tickers(self) -> None:
        await self._refresher.refresh_tickers(await self._source.market_time())

    async def _candles(self) -> None:
        await self._refresher.refresh_candles(await self._source.market_time())
