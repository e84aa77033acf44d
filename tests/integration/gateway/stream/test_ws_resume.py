"""Resume over a real WebSocket: from Redis history, on any replica, gap-free into live."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Published, Publisher
from tests.integration.gateway.conftest import TIMEFRAMES, publish_ticker
from tests.integration.gateway.factories import forecast
from tests.integration.gateway.ws_support import (
    ChannelState,
    StreamGateway,
    next_frame,
    send_op,
    serve_stream,
    subscribe,
    ws_connect,
)

pytestmark = pytest.mark.redis


async def publish_prices(publisher: Publisher, asset: str, prices: range) -> list[Published]:
    return [await publish_ticker(publisher, asset, float(p)) for p in prices]


async def position_after(gateway: StreamGateway, seq: str) -> ChannelState:
    """Connect, follow the channel up to `seq`, disconnect: the state a client leaves with."""
    async with ws_connect(gateway.ws_url) as ws:
        _, state = await subscribe(ws, gateway.channel)
        await state.follow_until(ws, seq)
    return state


async def test_resume_recovers_every_missed_update_and_the_same_state(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """A resumed client gets recovered + exactly the missed deltas in order, then live ones,
    and ends with the same state as a client that never disconnected."""
    first = await publish_prices(publisher, gateway.asset, range(1, 4))
    async with ws_connect(gateway.ws_url) as steady_ws:
        _, steady = await subscribe(steady_ws, gateway.channel)
        left = await position_after(gateway, first[-1].seq)
        missed = await publish_prices(publisher, gateway.asset, range(4, 9))
        async with ws_connect(gateway.ws_url) as ws:
            resume = {"epoch": str(left.epoch), "seq": str(left.seq)}
            subscribed, _ = await subscribe(ws, gateway.channel, resume)
            assert subscribed == {
                "type": "subscribed",
                "channel": gateway.channel,
                "epoch": first[0].epoch,
                "recovered": True,
            }
            for expected in missed:
                delta = await next_frame(ws)
                assert (delta["type"], delta["seq"]) == ("delta", expected.seq)
                left.apply(delta)  # asserts prev_seq == the seq held: no gap, no repeat
            live = await publish_ticker(publisher, gateway.asset, 9.0)
            left.apply(await next_frame(ws))
            assert left.seq == live.seq
        await steady.follow_until(steady_ws, live.seq)
    assert left.value == steady.value
    assert left.value["price"] == 9.0


async def test_resume_while_updates_pour_in_hands_off_without_gap_or_repeat(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """Updates published during the resume reach the client once each, in order."""
    published = [p.seq for p in await publish_prices(publisher, gateway.asset, range(1, 3))]
    left = await position_after(gateway, published[-1])
    published += [p.seq for p in await publish_prices(publisher, gateway.asset, range(3, 40))]

    async def pour() -> None:
        for price in range(40, 240):
            published.append((await publish_ticker(publisher, gateway.asset, price)).seq)

    pouring = asyncio.create_task(pour())
    async with ws_connect(gateway.ws_url) as ws:
        start = str(left.seq)
        subscribed, _ = await subscribe(
            ws, gateway.channel, {"epoch": str(left.epoch), "seq": start}
        )
        assert subscribed["recovered"] is True
        await pouring
        await left.follow_until(ws, published[-1])
    assert left.seqs == published[published.index(start) :]


@pytest.mark.parametrize("case", ["trimmed", "future", "changed epoch", "not a position"])
async def test_positions_history_cannot_honour_get_a_fresh_snapshot(
    gateway: StreamGateway, publisher: Publisher, redis: Redis, case: str
) -> None:
    """Trimmed, future, other-epoch or malformed positions: recovered false + a snapshot of
    the current value, then live deltas."""
    published = await publish_prices(publisher, gateway.asset, range(1, 11))
    epoch, seq = published[0].epoch, published[1].seq
    if case == "trimmed":
        key = Channel(ChannelKind.TICKER, gateway.asset).stream_key
        await redis.xtrim(key, minid=published[5].seq, approximate=False)
    elif case == "future":
        seq = "99999999999999-0"
    elif case == "changed epoch":
        epoch = "an-old-epoch"
    else:
        seq = "yesterday"
    async with ws_connect(gateway.ws_url) as ws:
        subscribed, state = await subscribe(ws, gateway.channel, {"epoch": epoch, "seq": seq})
        assert subscribed["recovered"] is False
        assert subscribed["epoch"] == published[0].epoch
        assert (state.seq, state.value["price"]) == (published[-1].seq, 10.0)
        live = await publish_ticker(publisher, gateway.asset, 11.0)
        await state.follow_until(ws, live.seq)


async def test_position_whose_own_entry_was_trimmed_gets_a_snapshot(
    gateway: StreamGateway, publisher: Publisher, redis: Redis
) -> None:
    """The client's own entry is gone though the next one still names it as prev: without
    the value the client holds the gateway cannot say what to remove, so it sends a snapshot
    (a full value merged over the client's state would leave removed fields behind)."""
    published = await publish_prices(publisher, gateway.asset, range(1, 3))
    left = await position_after(gateway, published[1].seq)
    published += await publish_prices(publisher, gateway.asset, range(3, 6))
    key = Channel(ChannelKind.TICKER, gateway.asset).stream_key
    await redis.xtrim(key, minid=published[2].seq, approximate=False)
    async with ws_connect(gateway.ws_url) as ws:
        resume = {"epoch": str(left.epoch), "seq": str(left.seq)}
        subscribed, state = await subscribe(ws, gateway.channel, resume)
        assert subscribed["recovered"] is False
        assert (state.seq, state.value["price"]) == (published[-1].seq, 5.0)


async def test_history_lost_and_restarted_is_a_new_epoch(
    gateway: StreamGateway, publisher: Publisher, redis: Redis
) -> None:
    """After Redis lost the channel, a resume from the old epoch gets the new epoch's snapshot."""
    old = await publish_prices(publisher, gateway.asset, range(1, 4))
    channel = Channel(ChannelKind.TICKER, gateway.asset)
    await redis.delete(channel.stream_key, channel.snapshot_key)
    new = await publish_prices(publisher, gateway.asset, range(10, 12))
    assert new[0].epoch != old[0].epoch
    async with ws_connect(gateway.ws_url) as ws:
        resume = {"epoch": old[0].epoch, "seq": old[-1].seq}
        subscribed, state = await subscribe(ws, gateway.channel, resume)
        assert (subscribed["recovered"], subscribed["epoch"]) == (False, new[0].epoch)
        assert state.seq == new[-1].seq


async def test_any_replica_resumes_any_client(
    redis_url: str, unique: str, publisher: Publisher
) -> None:
    """A position taken on one gateway is resumed on another: the state lives in Redis."""
    async with (
        serve_stream(redis_url, unique) as one,
        serve_stream(redis_url, unique, direct=False) as two,
    ):
        published = await publish_prices(publisher, unique, range(1, 3))
        left = await position_after(one, published[-1].seq)
        missed = await publish_prices(publisher, unique, range(3, 6))
        async with ws_connect(two.ws_url) as ws:
            resume = {"epoch": str(left.epoch), "seq": str(left.seq)}
            subscribed, _ = await subscribe(ws, two.channel, resume)
            assert subscribed["recovered"] is True
            await left.follow_until(ws, missed[-1].seq)
    assert left.seqs[-3:] == [p.seq for p in missed]


async def test_a_foreign_entry_in_the_history_is_never_replayed(
    gateway: StreamGateway, publisher: Publisher, redis: Redis
) -> None:
    """An entry in the publisher's format whose payload fails its schema (written to the stream
    by something other than a producer) is skipped by the live reader; a resume skips it too
    and chains the next real update onto the client's seq."""
    first = await publish_prices(publisher, gateway.asset, range(1, 3))
    left = await position_after(gateway, first[-1].seq)
    stream = Channel(ChannelKind.TICKER, gateway.asset).stream_key
    await redis.xadd(stream, {"s": "ticker/1", "ts": "1", "d": '{"price": -1}',
                              "epoch": first[0].epoch, "prev": first[-1].seq})  # fmt: skip
    real = await publish_ticker(publisher, gateway.asset, 3.0)
    async with ws_connect(gateway.ws_url) as ws:
        resume = {"epoch": str(left.epoch), "seq": str(left.seq)}
        subscribed, _ = await subscribe(ws, gateway.channel, resume)
        assert subscribed["recovered"] is True
        delta = await next_frame(ws)
        assert (delta["type"], delta["seq"], delta["prev_seq"]) == ("delta", real.seq, left.seq)
        left.apply(delta)
    assert left.value["price"] == 3.0


async def publish_value(publisher: Publisher, channel: Channel, n: int) -> str:
    if channel.kind is ChannelKind.TICKER:
        return (await publish_ticker(publisher, channel.asset, float(n + 1))).seq
    assert channel.tf is not None
    published = await publisher.publish(channel, forecast(channel.asset, channel.tf, n / 100))
    assert published is not None
    return published.seq


async def test_resuming_many_channels_at_once_shares_one_replay_budget(
    redis_url: str, unique: str, publisher: Publisher
) -> None:
    """Each replay fits the per-channel budget (half the queue) but together they would not:
    the later channels take a snapshot instead, and the connection is never closed as slow."""
    channels = [Channel(ChannelKind.FORECAST, unique, tf) for tf in TIMEFRAMES]
    channels.append(Channel(ChannelKind.TICKER, unique))
    async with serve_stream(redis_url, unique, direct=False, ws_queue_bytes=16_384) as gateway:
        for channel in channels:  # a first value: where the client will leave off
            await publish_value(publisher, channel, 0)
        states = {}
        async with ws_connect(gateway.ws_url) as ws:
            for channel in channels:
                _, states[channel.name] = await subscribe(ws, channel.name)
        newest = {}
        for channel in channels:  # several KB of deltas each, under the 8 KiB per-channel cap
            for n in range(1, 40):
                newest[channel.name] = await publish_value(publisher, channel, n)
        resume = {name: {"epoch": str(s.epoch), "seq": str(s.seq)} for name, s in states.items()}
        recovered = []
        async with ws_connect(gateway.ws_url) as ws:
            await send_op(ws, {"op": "subscribe", "channels": list(resume), "resume": resume})
            for _ in channels:
                subscribed = await next_frame(ws)
                assert subscribed["type"] == "subscribed", subscribed
                recovered.append(subscribed["recovered"])
                frame = await next_frame(ws)
                if subscribed["recovered"]:
                    while frame["seq"] != newest[subscribed["channel"]]:
                        assert frame["type"] == "delta", frame
                        frame = await next_frame(ws)
                else:
                    assert frame["type"] == "snapshot", frame
            await send_op(ws, {"op": "ping"})
            assert (await next_frame(ws))["type"] == "pong"  # still open: not closed as slow
    assert recovered[0] is True and False in recovered, recovered
