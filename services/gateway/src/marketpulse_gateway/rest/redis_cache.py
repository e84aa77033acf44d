"""Reads of the shared cache in Redis: channel snapshots and candle sets, as stored JSON.

Producers validated each value against the shared schema before publishing, and the stored
JSON is spliced into responses as it is; a snapshot read here is still checked once
(stored.py), since this read is the rare miss of the in-memory layer, and one that fails
comes back `Rejected`. Every read
is one round trip with a deadline; a Redis failure becomes `StoreUnavailable` here, so the
routes never see a redis-py exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketpulse_common.events import Candle
from marketpulse_common.keys import Channel, ChannelKind, candles_key, status_key
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.publisher import ChannelField, Snapshot, publish_time
from marketpulse_common.timeframes import Timeframe
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.rest.candle_slot import LoadedCandles
from marketpulse_gateway.stored import Rejected, read_stored

log = get_logger(__name__)

# A cache read answers in well under a millisecond; a request waiting longer than this is
# better served a 503 with Retry-After than left hanging on a sick Redis.
READ_TIMEOUT_S = 2.0


class RedisCache:
    def __init__(self, redis: Redis, *, timeout_s: float = READ_TIMEOUT_S) -> None:
        self._redis = redis
        self._timeout_s = timeout_s

    async def snapshot(self, channel: Channel) -> Snapshot | Rejected | None:
        return (await self.snapshots([channel]))[0]

    async def snapshots(self, channels: Sequence[Channel]) -> list[Snapshot | Rejected | None]:
        """Each channel's stored snapshot, checked (stored.py): None when nothing is stored."""
        async with self._guard():
            pipe = self._redis.pipeline(transaction=False)
            for channel in channels:
                pipe.hgetall(channel.snapshot_key)
            replies = await pipe.execute()
        return [read_stored(cast(dict[str, str], fields)) for fields in replies]

    async def candles(self, asset: str, tf: Timeframe, limit: int) -> LoadedCandles:
        """The newest `limit` closed candles, oldest first, with the channel's stamp.

        Members are spliced into bodies as stored, so each is checked here, once per read
        of the set: one that is not a Candle is left out (logged), not served as broken JSON.
        """
        async with self._guard():
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrange(candles_key(asset, tf), -limit, -1)
            candles_channel = Channel(ChannelKind.CANDLES, asset, tf)
            pipe.hmget(candles_channel.snapshot_key, [ChannelField.TS, ChannelField.SOURCE])
            members, (ts, source) = await pipe.execute()
        return LoadedCandles(_candles_only(members, asset, tf), publish_time(ts), source or "")

    async def produced_at(self, channels: Sequence[Channel]) -> list[float | None]:
        """When each channel's latest value was published (None: nothing cached)."""
        async with self._guard():
            pipe = self._redis.pipeline(transaction=False)
            for channel in channels:
                pipe.hget(channel.snapshot_key, ChannelField.TS)
            replies = await pipe.execute()
        return [publish_time(ts) for ts in replies]

    async def status(self, component: str) -> dict[str, str]:
        """A status hash written by another service (e.g. the ingestor's upstream record)."""
        async with self._guard():
            return cast(dict[str, str], await self._redis.hgetall(status_key(component)))

    async def ping(self) -> None:
        async with self._guard():
            await self._redis.ping()

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except TimeoutError:
            raise StoreUnavailable("Redis did not answer in time; retry shortly") from None
        except RedisError as e:
            raise StoreUnavailable("Redis is unreachable; retry shortly") from e


def _candles_only(members: list[str], asset: str, tf: Timeframe) -> list[str]:
    kept = []
    for member in members:
        try:
            Candle.model_validate_json(member)
        except ValidationError as e:
            log.warning(
                "stored candle is not a Candle; left out",
                asset=asset,
                tf=tf.value,
                error=describe(e),
            )
            continue
        kept.append(member)
    return kept
