"""Gap repair: holes in a cached window are asked for again, a bounded number of times."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import candles_key
from marketpulse_common.timeframes import Timeframe
from marketpulse_ingestor.candle_store import HoleLedger
from marketpulse_ingestor.coingecko.source import CoinGeckoSource
from marketpulse_ingestor.refresher import Markets, Refresher
from tests.coingecko_server import faults
from tests.coingecko_server.server import FakeCoinGecko
from tests.integration.ingestor.harness import cg_settings

pytestmark = pytest.mark.redis

H1 = Timeframe.H1
# Per timeframe: a cache lacking a candle closed longer ago than this counts as left behind.
GRACE_900 = dict.fromkeys(Timeframe, 900)
NO_GRACE = dict.fromkeys(Timeframe, 0)


@pytest.fixture
async def refresher(
    coingecko: FakeCoinGecko, redis: Redis, unique: str
) -> AsyncIterator[Refresher]:
    settings = cg_settings(
        "redis://unused", coingecko, [unique], timeframes=["1h"], coingecko_calls_per_minute=500
    )
    # No reuse of answers between repair runs: here they follow each other within ms.
    source = await CoinGeckoSource.open(settings, redis, memo_s=0)
    refresher = Refresher(redis, source, Markets((unique,), (H1,), settings.history_depth))

    async def keep_going() -> bool:
        return True

    await refresher.backfill(int(time.time()), keep_going, full=False)
    yield refresher
    await source.aclose()


async def punch_hole(redis: Redis, asset: str, hours: int) -> tuple[list[str], int]:
    """Remove `hours` cached candles from the middle; returns all members before, hole start."""
    key = candles_key(asset, H1)
    members = await redis.zrange(key, 0, -1, withscores=True)
    first = int(members[len(members) // 2][1])
    await redis.zremrangebyscore(key, first, first + (hours - 1) * 3600)
    return [m for m, _ in members], first


async def test_a_hole_is_filled_with_the_candles_that_were_there(
    coingecko: FakeCoinGecko, refresher: Refresher, redis: Redis, unique: str
) -> None:
    """Three missing hours: one range call puts back exactly the same candles."""
    before, _ = await punch_hole(redis, unique, 3)
    calls = len(coingecko.calls)
    written = await refresher.repair_gaps(int(time.time()), max_fetches=5, lag_grace_s=GRACE_900)
    assert written == 3
    assert len(coingecko.calls) == calls + 1
    assert await redis.zrange(candles_key(unique, H1), 0, -1) == before


async def test_a_hole_the_upstream_cannot_fill_is_given_up_after_three_tries(
    coingecko: FakeCoinGecko, refresher: Refresher, redis: Redis, unique: str
) -> None:
    """The upstream lacks the data (an empty chart): asked three times, then left alone."""
    await punch_hole(redis, unique, 2)
    coingecko.fail_next(faults.body(json.dumps({"prices": []}).encode()), times=10)
    calls = len(coingecko.calls)
    for _ in range(5):
        await refresher.repair_gaps(int(time.time()), max_fetches=5, lag_grace_s=GRACE_900)
    assert len(coingecko.calls) == calls + HoleLedger.MAX_ATTEMPTS


async def test_holes_beyond_a_runs_cap_keep_their_attempts_until_asked(
    coingecko: FakeCoinGecko, refresher: Refresher, redis: Redis, unique: str
) -> None:
    """Four holes, one ask per run: each is asked in its turn. Counting an attempt for every
    hole found, asked or not, spent the last one's three tries before it was ever asked, and
    it stayed missing for a week."""
    key = candles_key(unique, H1)
    members = await redis.zrange(key, 0, -1, withscores=True)
    before = [m for m, _ in members]
    middle = len(members) // 2
    for k in (-4, -2, 0, 2):
        await redis.zremrangebyscore(key, members[middle + k][1], members[middle + k][1])
    calls = len(coingecko.calls)
    for _ in range(4):
        await refresher.repair_gaps(int(time.time()), max_fetches=1, lag_grace_s=GRACE_900)
    assert await redis.zrange(key, 0, -1) == before
    assert len(coingecko.calls) == calls + 4


async def test_a_cache_left_behind_is_brought_up_to_date(
    coingecko: FakeCoinGecko, refresher: Refresher, redis: Redis, unique: str
) -> None:
    """The newest candles missing (the upstream was late at the scheduled run): fetched."""
    key = candles_key(unique, H1)
    newest = int((await redis.zrange(key, -1, -1, withscores=True))[0][1])
    await redis.zremrangebyscore(key, newest - 2 * 3600, newest)
    written = await refresher.repair_gaps(int(time.time()), max_fetches=5, lag_grace_s=NO_GRACE)
    assert written == 3
    assert int((await redis.zrange(key, -1, -1, withscores=True))[0][1]) == newest
