"""The ingestor's work: move market data from a source into the cache and onto channels.

Each method is one scheduled job's body and takes the market time as an argument. Candles
are cached before they are published (a consumer loads its window from the cache when the
event arrives), and what to publish is decided from the cache and the channel's stored
`ver`, not from what was fetched in this run: a run that died between the two steps is
finished by the next one, every candle after the last announced one is announced in order
(so a replica joining or restarting never makes a channel skip one), and the publisher's
`ver` check makes a repeat by another replica a no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.logs import get_logger
from marketpulse_common.publisher import Publisher
from marketpulse_common.retention import trim_stream
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.candle_rules import cache_cap, closed_aligned, plan_fetch, to_announce
from marketpulse_ingestor.candle_store import CandleStore
from marketpulse_ingestor.source import MarketSource

log = get_logger(__name__)

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

    def pairs(self) -> list[tuple[str, Timeframe]]:
        return [(asset, tf) for asset in self.assets for tf in self.timeframes]


class Refresher:
    def __init__(self, redis: Redis, source: MarketSource, markets: Markets) -> None:
        self._redis = redis
        self._source = source
        self._markets = markets
        self._store = CandleStore(redis)
        self._publisher = Publisher(redis)

    async def backfill(self, now: int, keep_going: Callable[[], Awaitable[bool]]) -> int:
        """Fill every cache with the newest `history_depth` closed candles; stops early when
        `keep_going` says so. Returns candles written.

        A channel never announced gets only its newest candle; after a restart, the candles
        closed meanwhile are announced in order (see candle_rules.to_announce).
        """
        pairs = self._markets.pairs()
        written = 0
        for done, (asset, tf) in enumerate(pairs, start=1):
            if not await keep_going():
                log.info("backfill stopped early", done=done - 1, total=len(pairs))
                break
            count = await self._refresh(asset, tf, now, full=True)
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
        for ticker in await self._source.tickers(now):
            channel = Channel(ChannelKind.TICKER, ticker.asset)
            # ver = upstream time in ms: polling an unchanged ticker publishes nothing.
            ver = int(ticker.last_updated.timestamp() * 1000)
            if await self._publisher.publish(channel, ticker, ver=ver):
                published += 1
        return published

    async def refresh_candles(self, now: int) -> int:
        """Cache the candles closed since the newest cached one and publish each, in order."""
        published = 0
        for asset, tf in self._markets.pairs():
            await self._refresh(asset, tf, now, full=False)
            published += await self._publish_pending(asset, tf)
        return published

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

    async def _refresh(self, asset: str, tf: Timeframe, now: int, *, full: bool) -> int:
        newest = await self._store.newest_open(asset, tf)
        plan = plan_fetch(tf, now, self._markets.history_depth, newest, full=full)
        if plan is None:
            return 0
        fetched = await self._source.closed_candles(asset, tf, since_open=plan.since_open, now=now)
        candles = closed_aligned(fetched, tf, since_open=plan.since_open, now=now)
        await self._store.write(asset, tf, candles, replace_older=plan.replace_older)
        return len(candles)

    async def _publish_pending(self, asset: str, tf: Timeframe) -> int:
        channel = Channel(ChannelKind.CANDLES, asset, tf)
        ver = await self._redis.hget(channel.snapshot_key, "ver")
        if ver:
            pending = await self._store.after(asset, tf, int(ver))
        else:  # never announced, or the snapshot expired
            newest = await self._store.newest(asset, tf)
            pending = [newest] if newest is not None else []
        published = 0
        for candle in to_announce(pending, announced_before=bool(ver)):
            if await self._publish_candle(asset, tf, candle):
                published += 1
        return published

    async def _publish_candle(self, asset: str, tf: Timeframe, candle: Candle) -> bool:
        channel = Channel(ChannelKind.CANDLES, asset, tf)
        return await self._publisher.publish(channel, candle, ver=candle.t) is not None
