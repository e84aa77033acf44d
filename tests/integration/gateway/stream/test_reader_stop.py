"""The gateway's stream reader stops on its `stop` event, not only on cancellation.

redis-py swallows a cancellation that lands just as a command is sent (redis/redis-py#2028):
a reader that only stopped when cancelled would then read on for ever and the gateway's
shutdown (set stop, cancel, gather) would wait for it. With `stop` set it returns by the end
of its current blocking read.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.stream.reader import StreamReader

pytestmark = pytest.mark.redis


class Sink:
    def __init__(self) -> None:
        self.events: list[ChannelEvent] = []

    def prime(self, event: ChannelEvent) -> None:
        self.events.append(event)

    def publish(self, event: ChannelEvent) -> None:
        self.events.append(event)


async def test_a_set_stop_ends_the_reader_within_one_blocking_read(
    redis: Redis, unique: str
) -> None:
    stop = asyncio.Event()
    channel = Channel(ChannelKind.TICKER, unique)
    reader = StreamReader(redis, [channel], Sink(), block_ms=200, stop=stop)
    task = asyncio.create_task(reader.run())
    await asyncio.wait_for(reader.ready.wait(), 5)
    await asyncio.sleep(0)  # into its blocking XREAD
    stop.set()  # and no cancel: as if redis-py had swallowed it
    await asyncio.wait_for(task, 5)  # returned on its own
    assert task.done() and task.exception() is None


async def test_a_reader_stopped_before_it_starts_reads_nothing(redis: Redis, unique: str) -> None:
    stop = asyncio.Event()
    stop.set()
    sink = Sink()
    reader = StreamReader(redis, [Channel(ChannelKind.TICKER, unique)], sink, stop=stop)
    await asyncio.wait_for(reader.run(), 5)
    assert sink.events == []
