"""The candle cache: idempotent writes, replacement, and trimming, on real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from marketpulse_common.events import Candle
from marketpulse_common.keys import candles_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.candle_store import CandleStore

pytestmark = pytest.mark.redis

TF = Timeframe.H1
START = 1_700_000_000 // 3600 * 3600


def candles(count: int, *, first: int = START, price: float = 100.0) -> list[Candle]:
    return [
        Candle(t=first + i * TF.seconds, o=price, h=price + 1, l=price - 1, c=price + 0.5, v=2.0)
        for i in range(count)
    ]


async def test_writing_the_same_candles_twice_keeps_one_member_each(
    redis: Redis, unique: str
) -> None:
    """A repeated write (a retried job, a second replica) adds nothing."""
    store = CandleStore(redis)
    await store.write(unique, TF, candles(5))
    await store.write(unique, TF, candles(5))
    assert await redis.zcard(candles_key(unique, TF)) == 5


async def test_a_corrected_candle_replaces_the_old_one(redis: Redis, unique: str) -> None:
    """A candle with an open time already cached replaces it instead of sitting beside it."""
    store = CandleStore(redis)
    await store.write(unique, TF, candles(3))
    await store.write(unique, TF, candles(1, first=START + TF.seconds, price=200.0))
    cached = await store.after(unique, TF, START - 1)
    assert [(c.t, c.o) for c in cached] == [
        (START, 100.0),
        (START + TF.seconds, 200.0),
        (START + 2 * TF.seconds, 100.0),
    ]


async def test_replace_older_drops_candles_before_the_first_written(
    redis: Redis, unique: str
) -> None:
    """After a gap, the stale candles go so the cache has no hole."""
    store = CandleStore(redis)
    await store.write(unique, TF, candles(3))
    later = candles(2, first=START + 10 * TF.seconds)
    await store.write(unique, TF, later, replace_older=True)
    assert [c.t for c in await store.after(unique, TF, 0)] == [c.t for c in later]


async def test_newest_and_after_read_by_open_time(redis: Redis, unique: str) -> None:
    """newest_open/newest name the latest candle; after() returns later ones, oldest first."""
    store = CandleStore(redis)
    assert await store.newest_open(unique, TF) is None
    assert await store.newest(unique, TF) is None
    written = candles(4)
    await store.write(unique, TF, written)
    assert await store.newest_open(unique, TF) == written[-1].t
    assert await store.newest(unique, TF) == written[-1]
    assert await store.after(unique, TF, written[1].t) == written[2:]


async def test_trim_keeps_the_newest(redis: Redis, unique: str) -> None:
    """Trimming to N leaves exactly the N newest candles."""
    store = CandleStore(redis)
    written = candles(10)
    await store.write(unique, TF, written)
    assert await store.trim(unique, TF, 4) == 6
    assert await store.after(unique, TF, 0) == written[-4:]


async def test_a_malformed_member_is_skipped_not_fatal(redis: Redis, unique: str) -> None:
    """A member someone else wrote that is not a Candle is skipped when reading."""
    store = CandleStore(redis)
    await store.write(unique, TF, candles(2))
    await redis.zadd(candles_key(unique, TF), {"not json": START + 5 * TF.seconds})
    assert [c.t for c in await store.after(unique, TF, 0)] == [START, START + TF.seconds]
