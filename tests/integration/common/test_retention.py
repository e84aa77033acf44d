"""The producers' trim loop keeps stream history bounded, without losing unread work."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.retention import run_retention, trim_streams
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def fill(redis: Redis, stream: str, count: int) -> list[str]:
    return [await redis.xadd(stream, {"n": str(i)}) for i in range(count)]


async def test_retention_trims_each_stream_to_its_bound(redis: Redis, unique: str) -> None:
    """Every listed stream is cut to the newest `maxlen` entries while the loop runs."""
    streams = [f"{unique}:a", f"{unique}:b"]
    for stream in streams:
        await fill(redis, stream, 30)
    stop = asyncio.Event()
    task = asyncio.create_task(run_retention(redis, streams, stop, maxlen=10, interval_s=0.05))

    async def all_trimmed() -> bool:
        return all([await redis.xlen(s) == 10 for s in streams])

    await eventually(all_trimmed, what="both streams trimmed to 10")
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_retention_keeps_entries_a_group_has_not_finished(redis: Redis, unique: str) -> None:
    """A consumer group's unacknowledged entries survive a trim far below them."""
    stream = f"{unique}:held"
    ids = await fill(redis, stream, 30)
    await redis.xgroup_create(stream, "sentiment", id="0")
    await redis.xreadgroup("sentiment", "s1", {stream: ">"}, count=5)  # holds ids[0:5]
    await trim_streams(redis, [stream], maxlen=10)
    kept = [entry_id for entry_id, _ in await redis.xrange(stream)]
    assert kept[0] == ids[0]
    assert len(kept) == 30


async def test_a_missing_stream_is_not_an_error(redis: Redis, unique: str) -> None:
    """A channel nothing was published on yet is simply skipped."""
    assert await trim_streams(redis, [f"{unique}:never"], maxlen=10) == 0
