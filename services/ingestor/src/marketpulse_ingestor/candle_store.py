"""The closed-candle cache in Redis: one sorted set per asset/timeframe, scored by open time.

Members are the Candle JSON. A candle is written as "remove whatever has this open time,
then add", inside one MULTI, so writing the same candle twice leaves one member and a
corrected candle replaces the old one instead of sitting beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.events import Candle, decode_payload, encode_payload
from marketpulse_common.keys import candles_key, gap_attempts_key
from marketpulse_common.logs import describe, get_logger
from marketpulse_common.timeframes import Timeframe

log = get_logger(__name__)

CANDLE_SCHEMA = "candle/1"


class CandleStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def newest_open(self, asset: str, tf: Timeframe) -> int | None:
        """Open time of the newest cached candle, or None when the cache is empty."""
        top = await self._redis.zrevrange(candles_key(asset, tf), 0, 0, withscores=True)
        return int(top[0][1]) if top else None

    async def oldest_open(self, asset: str, tf: Timeframe) -> int | None:
        bottom = await self._redis.zrange(candles_key(asset, tf), 0, 0, withscores=True)
        return int(bottom[0][1]) if bottom else None

    async def opens(self, asset: str, tf: Timeframe, since: int) -> list[int]:
        """Open times of the cached candles opened at or after `since`, oldest first."""
        found = await self._redis.zrangebyscore(
            candles_key(asset, tf), since, "+inf", withscores=True
        )
        return [int(score) for _, score in cast(list[tuple[str, float]], found)]

    async def write(
        self, asset: str, tf: Timeframe, candles: Sequence[Candle], *, replace_older: bool = False
    ) -> None:
        """Store `candles` (oldest first) idempotently; `replace_older` drops every candle
        opened before the first of them."""
        if not candles:
            return
        key = candles_key(asset, tf)
        async with self._redis.pipeline(transaction=True) as pipe:
            if replace_older:
                pipe.zremrangebyscore(key, "-inf", f"({candles[0].t}")
            for candle in candles:
                pipe.zremrangebyscore(key, candle.t, candle.t)
                pipe.zadd(key, {encode_payload(candle): candle.t})
            await pipe.execute()

    async def after(self, asset: str, tf: Timeframe, open_time: int) -> list[Candle]:
        """Cached candles opened after `open_time`, oldest first."""
        raw = await self._redis.zrangebyscore(candles_key(asset, tf), f"({open_time}", "+inf")
        return _decode_all(cast(list[str], raw), asset, tf)

    async def newest(self, asset: str, tf: Timeframe) -> Candle | None:
        raw = await self._redis.zrevrange(candles_key(asset, tf), 0, 0)
        found = _decode_all(cast(list[str], raw), asset, tf)
        return found[0] if found else None

    async def trim(self, asset: str, tf: Timeframe, keep: int) -> int:
        """Drop all but the newest `keep` candles; returns how many went."""
        return int(await self._redis.zremrangebyrank(candles_key(asset, tf), 0, -(keep + 1)))


class HoleLedger:
    """How often each hole was asked for: one the upstream cannot fill (it lacks the data)
    is given up after MAX_ATTEMPTS instead of costing a call on every repair run."""

    MAX_ATTEMPTS = 3
    # Long enough to outlive the hole's stay in a history window of any timeframe we refresh
    # often; a hole still there after a week gets its attempts again.
    TTL_S = 7 * 86_400

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def spent(self, asset: str, tf: Timeframe, first_open: int) -> bool:
        """Whether the hole starting at `first_open` has had all its attempts."""
        attempts = await self._redis.hget(gap_attempts_key(asset, tf), str(first_open))
        return attempts is not None and int(attempts) >= self.MAX_ATTEMPTS

    async def attempted(self, asset: str, tf: Timeframe, first_open: int) -> None:
        """Count one attempt at the hole: a call was made for it (a refused one is not)."""
        key = gap_attempts_key(asset, tf)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, str(first_open), 1)
            pipe.expire(key, self.TTL_S)
            await pipe.execute()


def _decode_all(raw: Sequence[str], asset: str, tf: Timeframe) -> list[Candle]:
    candles: list[Candle] = []
    for member in raw:
        try:
            decoded = decode_payload(CANDLE_SCHEMA, member)
        except PoisonMessage as e:
            # Only this service writes here; a bad member means someone else did. Skip it
            # rather than stop publishing the good ones.
            log.warning("skipping a malformed cached candle", asset=asset, tf=tf, error=describe(e))
            continue
        assert isinstance(decoded, Candle)
        candles.append(decoded)
    return candles
