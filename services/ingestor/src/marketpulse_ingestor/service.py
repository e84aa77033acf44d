"""The ingestor process: backfill at start, then scheduled refreshes, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from marketpulse_common.connection import REDIS_ERRORS, create_redis
from marketpulse_common.health import instance_id, run_beacon
from marketpulse_common.lease import Lease
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.cadence import Cadence
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.errors import SourceError
from marketpulse_ingestor.refresher import Markets, Refresher
from marketpulse_ingestor.schedule import JobSpec, LeasedScheduler, run_holding
from marketpulse_ingestor.simulated.source import SimulatedSource
from marketpulse_ingestor.source import MarketSource

log = get_logger(__name__)

SERVICE = "ingestor"

# Retention is housekeeping: every 30 s is plenty for streams of thousands.
RETENTION = JobSpec("retention", interval_s=30.0, lease_ttl_s=90.0, jitter_s=5.0)
# Renewed while the backfill runs (schedule.run_holding) and before each asset/timeframe, so this
# only bounds how long a crashed backfiller keeps the others waiting.
BACKFILL_LEASE_TTL_MS = 60_000
# Inside lifecycle.DRAIN_TIMEOUT_S, so Redis is still closed cleanly after a slow last run.
JOB_DRAIN_TIMEOUT_S = 5.0
# Between two attempts to open the source while Redis (or the cluster slot of the market
# clock) is unavailable as the ingestor starts.
OPEN_RETRY_S = 1.0


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Run one ingestor instance until `stop` is set."""
    redis = create_redis(settings.redis_dsn, client_name=SERVICE, cluster=settings.redis_cluster)
    try:
        source = await open_source_patiently(settings, redis, stop)
        if source is None:
            return  # stopped before Redis came back
        try:
            await Ingestor(settings, redis, source).run(stop)
        finally:
            await source.aclose()
    finally:
        await redis.aclose()


async def open_source_patiently(
    settings: Settings, redis: Redis, stop: asyncio.Event
) -> MarketSource | None:
    """`open_source`, waiting out a Redis outage (a cluster failover as the ingestor starts:
    the startup check reached a node, but the one serving the market clock is being
    replaced); None when `stop` is set first."""
    while not stop.is_set():
        try:
            return await open_source(settings, redis)
        except REDIS_ERRORS as e:
            log.warning("redis unavailable while opening the source; retrying", error=describe(e))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), OPEN_RETRY_S)
    return None


async def open_source(settings: Settings, redis: Redis) -> MarketSource:
    if settings.source == "simulated":
        return await SimulatedSource.open(redis, settings)
    return await CoinGeckoSource.open(settings, redis)


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        source: MarketSource,
        *,
        instance: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance or instance_id(SERVICE)
        self._redis = redis
        self._source = source
        self._markets = Markets(
            assets=tuple(settings.assets),
            timeframes=tuple(settings.timeframes),
            history_depth=settings.history_depth,
        )
        self._cadence = source.cadence()
        self._refresher = Refresher(redis, source, self._markets, wall=wall)
        self.jobs = LeasedScheduler(redis, owner=self.instance)

    async def run(self, stop: asyncio.Event) -> None:
        info: dict[str, object] = {"source": self._source.name}
        beacon = asyncio.create_task(run_beacon(self._redis, SERVICE, self.instance, stop, info))
        log.info("ingestor starting", instance=self.instance, source=self._source.name)
        try:
            await self._backfill(stop)
            if not stop.is_set():
                self._schedule(self._cadence)
                await stop.wait()
        finally:
            await self.jobs.stop(JOB_DRAIN_TIMEOUT_S)
            beacon.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beacon
            log.info("ingestor stopped", instance=self.instance)

    def _schedule(self, cadence: Cadence) -> None:
        self.jobs.start()
        self.jobs.add(cadence.tickers, self._tickers)
        for job in cadence.candles:
            self.jobs.add(job.spec, self._candle_body(job.timeframes))
        if cadence.gap_repair is not None:
            self.jobs.add(cadence.gap_repair.spec, self._repair_gaps)
        self.jobs.add(RETENTION, self._refresher.enforce_retention)

    async def _backfill(self, stop: asyncio.Event) -> None:
        lease = Lease(self._redis, f"{SERVICE}:backfill", self.instance, BACKFILL_LEASE_TTL_MS)
        try:
            held = await lease.acquire()
        except REDIS_ERRORS as e:
            # Like a backfill cut short: the candle jobs fill the caches once Redis is back.
            log.warning("backfill skipped: redis unavailable", error=describe(e))
            return
        if held is None:
            # Another replica is filling the caches; our candle job would only repeat it.
            log.info("backfill is running on another replica; skipping it here")
            return

        async def keep_going() -> bool:
            return not stop.is_set() and await lease.acquire() is not None

        async def fill() -> None:
            now = await self._source.market_time()
            full = self._cadence.full_backfill
            written = await self._refresher.backfill(now, keep_going, full=full)
            log.info("backfill done", candles=written)
            # Under the gap job's lease, like the tickers below: a replica's scheduled repair
            # running meanwhile would ask for the same holes and spend their tries twice.
            gaps = self._cadence.gap_repair
            if gaps is not None and await keep_going():
                await self.jobs.run_once(gaps.spec, self._repair_gaps)
            # A slow ticker cadence (minutes on a small plan) would leave a first start
            # without prices until its first slot: fetch them now unless they are fresh
            # (under the ticker job's lease, so no replica's scheduled run doubles it).
            tickers = self._cadence.tickers
            if await keep_going() and await self._refresher.tickers_older_than(tickers.interval_s):
                await self.jobs.run_once(tickers, self._tickers)

        try:
            await run_holding(lease, BACKFILL_LEASE_TTL_MS / 1000, fill)
        except (*REDIS_ERRORS, SourceError) as e:
            # Not fatal: the candle jobs and gap repair fill any cache left empty.
            log.warning("backfill failed; the candle jobs will fill the caches", error=describe(e))
        finally:
            await self._release(lease)

    async def _release(self, lease: Lease) -> None:
        """Hand the lease back; when Redis cannot be told (the outage that may have cut the
        backfill short), it expires by itself within its TTL."""
        try:
            await lease.release()
        except REDIS_ERRORS as e:
            log.warning(
                "could not release a lease; it will expire", job=lease.job, error=describe(e)
            )

    async def _tickers(self) -> None:
        await self._refresher.refresh_tickers(await self._source.market_time())

    def _candle_body(self, timeframes: tuple[Timeframe, ...]) -> Callable[[], Awaitable[None]]:
        async def refresh() -> None:
            now = await self._source.market_time()
            await self._refresher.refresh_candles(now, timeframes)

        return refresh

    async def _repair_gaps(self) -> None:
        gaps = self._cadence.gap_repair
        assert gaps is not None
        now = await self._source.market_time()
        written = await self._refresher.repair_gaps(
            now, max_fetches=gaps.max_fetches, lag_grace_s=gaps.lag_grace_s
        )
        if written:
            log.info("gap repair wrote candles", candles=written)
