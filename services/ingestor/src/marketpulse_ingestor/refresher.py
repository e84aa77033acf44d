"""The ingestor's work: move market data from a source into the cache and onto channels.

Each method is one scheduled job's body and takes the market time as an argument. Candles
are cached before they are published (a consumer loads its window from the cache when the
event arrives), and what to publish is decided from the cache and the channel's stored
`ver`, not from what was fetched in this run: a run that died between the two steps is
finished by the next one, every candle after the last announced one is announced in order
(so a replica joining or restarting never makes a channel skip one), and the publisher's
`ver` check makes a repeat by another replica a no-op.

A fetch that fails writes nothing: the cache keeps its last good candles and the snapshot its
last good value (whose `ts` gives the gateway its age). One asset/timeframe failing does not
stop the others, except when the source refuses calls altogether (budget, pause, circuit):
then the run ends and the next one tries again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.publisher import Publisher, read_snapshot, read_version
from marketpulse_common.retention import trim_stream
from marketpulse_common.timeframes import Timeframe
from marketpulse_common.tracing import span
from marketpulse_ingestor.candle_rules import (
    Hole,
    cache_cap,
    closed_aligned,
    find_holes,
    history_start,
    left_behind,
    older_span,
    plan_fetch,
    to_announce,
)
from marketpulse_ingestor.candle_store import CandleStore, HoleLedger
from marketpulse_ingestor.errors import CallRefused, SourceError
from marketpulse_ingestor.metrics import INGEST_TO_STORED
from marketpulse_ingestor.source import MarketSource

log = get_logger(__name__)
TICKER_LAG = INGEST_TO_STORED.labels("ticker")
CANDLES_LAG = INGEST_TO_STORED.labels("candles")

# Stream history the ingestor keeps per channel (trim never passes a group's pending work).
# Tickers arrive every second: 2000 entries give a reconnecting WebSocket client about half
# an hour to resume from. Candle channels are slower (a 5m channel holds ~3.5 days in 1000),
# and a consumer group that fell that far behind is better served by the cache anyway.
TICKER_STREAM_MAXLEN = 2000
CANDLE_STREAM_MAXLEN = 1000


@dataclass(frozen=True, slots=True)
class Markets:
    """What the ingestor tracks."""

    assets: tuple[str, ...]
    timeframes: tuple[Timeframe, ...]
    history_depth: int

    def pairs(self, timeframes: Iterable[Timeframe] | None = None) -> list[tuple[str, Timeframe]]:
        chosen = self.timeframes if timeframes is None else tuple(timeframes)
        return [(asset, tf) for asset in self.assets for tf in self.timeframes if tf in chosen]


class Refresher:
    def __init__(
        self,
        redis: Redis,
        source: MarketSource,
        markets: Markets,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._source = source
        self._markets = markets
        self._wall = wall
        self._store = CandleStore(redis)
        self._holes = HoleLedger(redis)
        self._publisher = Publisher(redis, source=source.name)

    async def backfill(
        self, now: int, keep_going: Callable[[], Awaitable[bool]], *, full: bool = True
    ) -> int:
        """Fill every cache with the newest `history_depth` closed candles; stops early when
        `keep_going` says so. Returns candles written.

        `full` rewrites each whole window; otherwise only what the cache lacks is fetched
        (the newest candles, and older ones the source can still give). A channel never
        announced gets only its newest candle; after a restart, the candles closed meanwhile
        are announced in order (see candle_rules.to_announce).
        """
        pairs = self._markets.pairs()
        written = 0
        for done, (asset, tf) in enumerate(pairs, start=1):
            if not await keep_going():
                log.info("backfill stopped early", done=done - 1, total=len(pairs))
                break
            count = await self._isolated(asset, tf, self._backfill_pair(asset, tf, now, full))
            await self._publish_pending(asset, tf)
            written += count
            log.info(
                "backfilled",
                asset=asset,
                tf=tf.value,
                candles=count,
                progress=f"{done}/{len(pairs)}",
            )
        return written

    async def refresh_tickers(self, now: int) -> int:
        """Publish the latest ticker of every asset; returns how many were new."""
        published = 0
        started = time.monotonic()
        with span("ingest tickers"):
            for ticker in await self._source.tickers(now):
                channel = Channel(ChannelKind.TICKER, ticker.asset)
                # ver = upstream time in ms: polling an unchanged ticker publishes nothing.
                ver = int(ticker.last_updated.timestamp() * 1000)
                if await self._publisher.publish(channel, ticker, ver=ver, ts=self._wall()):
                    published += 1
                    TICKER_LAG.observe(time.monotonic() - started)
        return published

    async def tickers_older_than(self, age_s: float) -> bool:
        """Whether some asset has no ticker, or one published more than `age_s` ago."""
        channels = [Channel(ChannelKind.TICKER, asset) for asset in self._markets.assets]
        snapshots = [await read_snapshot(self._redis, channel) for channel in channels]
        oldest = self._wall() - age_s
        return any(snap is None or snap.ts < oldest for snap in snapshots)

    async def refresh_candles(self, now: int, timeframes: Iterable[Timeframe] | None = None) -> int:
        """Cache the candles closed since the newest cached one and publish each, in order."""
        published = 0
        for asset, tf in self._markets.pairs(timeframes):
            with span("ingest candles", asset=asset, tf=tf.value):
                await self._isolated(asset, tf, self._refresh(asset, tf, now, full=False))
                published += await self._publish_pending(asset, tf)
        return published

    async def repair_gaps(
        self, now: int, *, max_fetches: int, lag_grace_s: Mapping[Timeframe, int]
    ) -> int:
        """Ask the source again for holes in the cached windows, and for caches still behind
        their timeframe's `lag_grace_s` after a close (the upstream was late for their
        scheduled run). At most `max_fetches` asks per run; returns candles written."""
        written = 0
        asks = 0
        for asset, tf in self._markets.pairs():
            for hole in await self._holes_to_ask(asset, tf, now):
                if asks >= max_fetches:
                    return written
                asks += 1
                # A refused call (CallRefused: a pause, an open circuit) raises past this:
                # only an ask that reached the upstream spends one of the hole's attempts.
                written += await self._isolated(asset, tf, self._fill(asset, tf, hole, now))
                await self._holes.attempted(asset, tf, hole.first)
            newest = await self._store.newest_open(asset, tf)
            if left_behind(newest, tf, now, lag_grace_s[tf]) and asks < max_fetches:
                asks += 1
                refresh = self._refresh(asset, tf, now, full=False)
                written += await self._isolated(asset, tf, refresh)
            await self._publish_pending(asset, tf)
        return written

    async def enforce_retention(self) -> None:
        """Trim the streams the ingestor publishes and each candle cache to its cap."""
        keep = cache_cap(self._markets.history_depth)
        for asset in self._markets.assets:
            await trim_stream(
                self._redis, Channel(ChannelKind.TICKER, asset).stream_key, TICKER_STREAM_MAXLEN
            )
            for tf in self._markets.timeframes:
                channel = Channel(ChannelKind.CANDLES, asset, tf)
                await trim_stream(self._redis, channel.stream_key, CANDLE_STREAM_MAXLEN)
                await self._store.trim(asset, tf, keep)

    async def _isolated(self, asset: str, tf: Timeframe, work: Awaitable[int]) -> int:
        """Run one asset/timeframe's fetch; its failure is logged, not the whole run's —
        unless the source refuses every call for now."""
        try:
            return await work
        except CallRefused:
            raise
        except SourceError as e:
            log.warning(
                "candle fetch failed; keeping the cache",
                asset=asset,
                tf=tf.value,
                error=describe(e),
            )
            return 0

    async def _backfill_pair(self, asset: str, tf: Timeframe, now: int, full: bool) -> int:
        if full:
            return await self._refresh(asset, tf, now, full=True)
        count = await self._refresh(asset, tf, now, full=False)
        oldest = await self._store.oldest_open(asset, tf)
        span = older_span(tf, now, self._markets.history_depth, oldest, self._source.reach(tf, now))
        if span is not None and oldest is not None:
            count += await self._fetch_and_write(asset, tf, span.since_open, oldest)
        return count

    async def _holes_to_ask(self, asset: str, tf: Timeframe, now: int) -> list[Hole]:
        start = history_start(tf, now, self._markets.history_depth)
        holes = find_holes(await self._store.opens(asset, tf, start), tf)
        reach = self._source.reach(tf, now)
        asked = []
        for hole in reversed(holes):  # newest first: they matter most to a chart
            if reach is not None and hole.last < reach:
                continue  # the source no longer has it
            if not await self._holes.spent(asset, tf, hole.first):
                asked.append(hole)
        return asked

    async def _fill(self, asset: str, tf: Timeframe, hole: Hole, now: int) -> int:
        until = min(now, hole.last + tf.seconds)
        count = await self._fetch_and_write(asset, tf, hole.first - tf.seconds, until)
        log.info(
            "hole repaired" if count >= hole.count(tf) else "hole still open",
            asset=asset,
            tf=tf.value,
            missing=hole.count(tf),
            written=count,
        )
        return count

    async def _fetch_and_write(self, asset: str, tf: Timeframe, since_open: int, until: int) -> int:
        """Cache the candles opened after `since_open` and closed by `until`."""
        started = time.monotonic()
        fetched = await self._source.closed_candles(asset, tf, since_open=since_open, now=until)
        candles = closed_aligned(fetched, tf, since_open=since_open, now=until)
        await self._store.write(asset, tf, candles)
        if candles:
            CANDLES_LAG.observe(time.monotonic() - started)
        return len(candles)

    async def _refresh(self, asset: str, tf: Timeframe, now: int, *, full: bool) -> int:
        newest = await self._store.newest_open(asset, tf)
        plan = plan_fetch(tf, now, self._markets.history_depth, newest, full=full)
        if plan is None:
            return 0
        started = time.monotonic()
        fetched = await self._source.closed_candles(asset, tf, since_open=plan.since_open, now=now)
        candles = closed_aligned(fetched, tf, since_open=plan.since_open, now=now)
        await self._store.write(asset, tf, candles, replace_older=plan.replace_older)
        if candles:
            CANDLES_LAG.observe(time.monotonic() - started)
        return len(candles)

    async def _publish_pending(self, asset: str, tf: Timeframe) -> int:
        channel = Channel(ChannelKind.CANDLES, asset, tf)
        ver = await read_version(self._redis, channel)
        if ver is not None:
            pending = await self._store.after(asset, tf, ver)
        else:  # never announced, or the snapshot expired
            newest = await self._store.newest(asset, tf)
            pending = [newest] if newest is not None else []
        published = 0
        for candle in to_announce(pending, announced_before=ver is not None):
            if await self._publish_candle(asset, tf, candle):
                published += 1
        return published

    async def _publish_candle(self, asset: str, tf: Timeframe, candle: Candle) -> bool:
        channel = Channel(ChannelKind.CANDLES, asset, tf)
        published = await self._publisher.publish(channel, candle, ver=candle.t, ts=self._wall())
        return published is not None
