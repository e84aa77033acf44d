"""`MP_SOURCE=simulated`: the seeded simulator behind the MarketSource protocol.

The simulated market is started at the clock's `origin` (anchored in Redis), so every replica
and every restart generates the same price path and a candle cached by one is the candle the
others would have produced. Generation is CPU work: it runs in the source's own worker thread,
one call at a time (the simulator is not thread-safe), so the event loop keeps serving leases
and beacons. One dedicated thread rather than the loop's shared pool: the market's arrays
(megabytes per asset, re-made at each market day) are then always allocated by the same
thread, in the same malloc arena, instead of landing in a new arena whenever the shared pool
happens to start another thread (a one-off jump of the ingestor's RSS by the whole path).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from redis.asyncio import Redis

from marketpulse_common.events import Candle, Ticker
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.cadence import Cadence, CandleJob
from marketpulse_ingestor.schedule import JobSpec
from marketpulse_ingestor.simulated.anchored_clock import AnchoredClock
from marketpulse_ingestor.simulated.market import DEFAULT_HISTORY_DAYS, SimulatedMarket

log = get_logger(__name__)

T = TypeVar("T")

_SECONDS_PER_DAY = 86_400
# Catching up on a long stretch of market time (a restart after downtime at high speed) is
# done in steps this long, so the simulator never holds more than a month of freshly
# generated minutes (a few MB per asset) at once.
CATCH_UP_STEP_S = 30 * _SECONDS_PER_DAY

# The contract: a ticker every wall second; candles are checked as often, so one that closes
# is cached and announced within a second (the simulator at speed 300 closes a 5m candle
# every second).
TICKERS = JobSpec("tickers", interval_s=1.0, lease_ttl_s=5.0)
CANDLES = JobSpec("candles", interval_s=1.0, lease_ttl_s=5.0)


def history_days(depth: int, timeframes: Sequence[Timeframe]) -> int:
    """Days of minute history the simulator must retain to backfill `depth` candles of every
    timeframe (plus the partial day at each end)."""
    longest = max(tf.seconds for tf in timeframes)
    return max(DEFAULT_HISTORY_DAYS, math.ceil(depth * longest / _SECONDS_PER_DAY) + 2)


class SimulatedSource:
    """MarketSource over the simulator, on the market clock anchored in Redis."""

    def __init__(self, clock: AnchoredClock, settings: Settings) -> None:
        self._clock = clock
        self._assets = list(settings.assets)
        self._seed = settings.sim_seed
        self._vs_currency = settings.vs_currency
        self._history_days = history_days(settings.history_depth, settings.timeframes)
        self._timeframes = list(settings.timeframes)
        self._lock = asyncio.Lock()
        self._origin = -1
        self._market: SimulatedMarket | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulator")

    @classmethod
    async def open(cls, redis: Redis, settings: Settings) -> SimulatedSource:
        """Anchor (or join) the market clock and generate the history up to now."""
        clock = AnchoredClock(redis, settings.sim_speed)
        await clock.start()
        source = cls(clock, settings)
        await source._read(await clock.now(), source._generate)
        return source

    @property
    def name(self) -> str:
        return "simulated"

    async def market_time(self) -> int:
        return await self._clock.now()

    async def tickers(self, now: int) -> list[Ticker]:
        def read(market: SimulatedMarket) -> list[Ticker]:
            return [market.ticker(asset) for asset in self._assets]

        return await self._read(now, read)

    async def closed_candles(
        self, asset: str, tf: Timeframe, *, since_open: int, now: int
    ) -> list[Candle]:
        def read(market: SimulatedMarket) -> list[Candle]:
            return market.closed_candles(asset, tf, since_open)

        return await self._read(now, read)

    def reach(self, tf: Timeframe, now: int) -> int | None:
        return None  # the simulator regenerates any stretch of its retained history

    def cadence(self) -> Cadence:
        return Cadence(
            tickers=TICKERS,
            candles=(CandleJob(CANDLES, tuple(self._timeframes)),),
            full_backfill=True,
        )

    async def aclose(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._market = None

    async def _read(self, now: int, read: Callable[[SimulatedMarket], T]) -> T:
        """Advance the market to `now`, then `read` it, in the worker thread."""
        context = contextvars.copy_context()  # log context, as asyncio.to_thread passes it
        loop = asyncio.get_running_loop()
        async with self._lock:
            return await loop.run_in_executor(
                self._worker, context.run, lambda: read(self._advance(now))
            )

    def _advance(self, now: int) -> SimulatedMarket:
        market = self._current_market()
        step = market.now
        while now - step > CATCH_UP_STEP_S:
            step += CATCH_UP_STEP_S
            market.advance(step)
            self._generate(market)
        market.advance(now)
        return market

    def _current_market(self) -> SimulatedMarket:
        origin = self._clock.anchor.origin
        if self._market is None or origin != self._origin:
            if self._market is not None:
                log.warning("market clock was re-created in Redis; restarting the simulation")
            self._market = SimulatedMarket(
                self._assets,
                seed=self._seed,
                vs_currency=self._vs_currency,
                start=origin,
                history_days=self._history_days,
            )
            self._origin = origin
        return self._market

    def _generate(self, market: SimulatedMarket) -> None:
        # The simulator generates the path lazily on its next read; a ticker is the cheapest.
        for asset in self._assets:
            market.ticker(asset)
