"""Reads of the cached candles (the ingestor's sorted sets): the adapter behind Window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from marketpulse_common.keys import candles_key
from marketpulse_common.timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class CachedWindow:
    """Members (candle JSON, oldest first) up to a candle, and how many cached candles follow."""

    members: list[str]
    newer: int


async def read_window(
    redis: Redis, asset: str, tf: Timeframe, last_open: int, size: int
) -> CachedWindow:
    """The last `size` cached candles with open time <= `last_open`, in one round trip."""
    key = candles_key(asset, tf)
    # MULTI: the window and the count of newer candles describe the same moment.
    async with redis.pipeline(transaction=True) as pipe:
        # Newest first so LIMIT keeps the end of the window, then flipped to oldest first.
        pipe.zrange(key, last_open, "-inf", desc=True, byscore=True, offset=0, num=size)
        pipe.zcount(key, f"({last_open}", "+inf")
        members, newer = await pipe.execute()
    return CachedWindow(members=list(reversed(cast(list[str], members))), newer=int(newer))
