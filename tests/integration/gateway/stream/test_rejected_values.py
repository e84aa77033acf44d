"""Values the gateway will not pass on, over a real WebSocket and a real Redis.

A value whose payload fails its schema can reach Redis in the publisher's own format (a
producer on a newer schema, or a hand-made write): the live reader skips its entry, and a
subscribe must not serve it either, as the stored snapshot. The next good value follows it
(`prev`), so it cannot be a delta to anyone: it comes as a fresh snapshot, and every client
ends with exactly that value, none of the rejected one's fields left behind.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher, read_snapshot
from marketpulse_gateway.stream.history import StreamHistory
from marketpulse_gateway.stream.protocol import Position
from marketpulse_gateway.stream.resume import plan_replay
from tests.integration.gateway.conftest import publish_ticker, write_rejected
from tests.integration.gateway.ws_support import (
    ChannelState,
    StreamGateway,
    next_frame,
    subscribe,
    ws_connect,
)

pytestmark = pytest.mark.redis


async def follow(ws: Any, state: ChannelState, seq: str) -> list[dict[str, Any]]:
    """Apply frames until the state reaches `seq`; returns them."""
    frames = []
    while state.seq != seq:
        frames.append(await next_frame(ws))
        state.apply(frames[-1])
    return frames


async def test_a_rejected_value_is_never_served_and_the_next_one_comes_whole(
    gateway: StreamGateway, publisher: Publisher, redis: Redis
) -> None:
    channel = Channel(ChannelKind.TICKER, gateway.asset)
    good = await publish_ticker(publisher, gateway.asset, 1.0)
    async with ws_connect(gateway.ws_url) as early_ws:
        _, early = await subscribe(early_ws, gateway.channel)
        assert early.seq == good.seq
        rejected = await write_rejected(redis, channel, {"price": -1, "left_behind": True})
        async with ws_connect(gateway.ws_url) as late_ws:
            _, late = await subscribe(late_ws, gateway.channel)
            # The stored snapshot is the rejected value: the last good one is served instead.
            assert (late.seq, late.value["price"]) == (good.seq, 1.0)
            after = await publish_ticker(publisher, gateway.asset, 2.0)
            stored = await read_snapshot(redis, channel)
            assert stored is not None
            for ws, state in ((early_ws, early), (late_ws, late)):
                frames = await follow(ws, state, after.seq)
                assert [f["type"] for f in frames] == ["subscribed", "snapshot"]
                assert frames[0]["recovered"] is False
                assert state.value == orjson.loads(stored.data)
                assert rejected not in state.seqs


async def test_a_replay_cut_short_by_its_read_is_not_passed_off_as_complete(
    redis: Redis, publisher: Publisher, unique: str
) -> None:
    """The history read takes max_entries + 2 entries; entries the reader would skip are
    dropped after it. A window holding some of those must still count as a full read (the
    newest updates were not read), not as a replay that ends early."""
    channel = Channel(ChannelKind.TICKER, unique)
    held = await publish_ticker(publisher, unique, 1.0)
    for n in range(2):
        await redis.xadd(channel.stream_key, {"junk": str(n)})
    for price in (2.0, 3.0, 4.0):
        await publish_ticker(publisher, unique, price)
    [history] = await StreamHistory(redis).read([(channel, held.seq)], max_entries=3)
    assert history.entries is not None
    position = Position(epoch=held.epoch, seq=held.seq)
    replay = plan_replay(channel.name, position, history.entries, max_entries=3, max_bytes=1 << 20)
    assert replay is None  # a fresh snapshot, never a replay that stops at 3.0


@pytest.mark.parametrize("seq", ["not-a-position", "99999999999999-0"])
async def test_a_stored_snapshot_whose_seq_is_not_a_position_of_its_stream_is_rejected(
    gateway: StreamGateway, publisher: Publisher, redis: Redis, seq: str
) -> None:
    """A hand-written snapshot hash whose seq does not parse would end the subscribing
    connection (1006); one beyond the stream's newest entry would make every live update
    look older than what the client holds, so it would see none. Either is refused: the
    subscriber gets the last good value, then every update after it."""
    channel = Channel(ChannelKind.TICKER, gateway.asset)
    good = await publish_ticker(publisher, gateway.asset, 1.0)
    async with ws_connect(gateway.ws_url) as early_ws:
        _, early = await subscribe(early_ws, gateway.channel)
        assert early.seq == good.seq  # the gateway has read it: the last good value it holds
        await redis.hset(channel.snapshot_key, "seq", seq)
        async with ws_connect(gateway.ws_url) as late_ws:
            _, late = await subscribe(late_ws, gateway.channel)
            assert (late.seq, late.value["price"]) == (good.seq, 1.0)
            after = await publish_ticker(publisher, gateway.asset, 2.0)
            await late.follow_until(late_ws, after.seq)
            assert late.value["price"] == 2.0
