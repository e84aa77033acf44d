"""WS /v1/stream over a real WebSocket: snapshot, ordered deltas, errors, heartbeats.

Every test runs against both ways of serving: the direct socket (as production serves it)
and uvicorn's stock protocol (the portable queued socket).
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from marketpulse_common.events import Sentiment
from marketpulse_common.keys import Channel, ChannelKind
from marketpulse_common.publisher import Publisher
from marketpulse_gateway.runtime import Tuning
from marketpulse_gateway.stream.delta import apply_delta
from tests.asyncapi_frames import checked_frame
from tests.integration.gateway.conftest import publish_ticker
from tests.integration.gateway.metrics_text import sample
from tests.integration.gateway.ws_support import (
    StreamGateway,
    next_frame,
    serve_stream,
    ws_connect,
)

pytestmark = pytest.mark.redis


async def subscribe(ws: ClientConnection, *channels: str) -> None:
    await ws.send(orjson.dumps({"op": "subscribe", "channels": list(channels)}).decode())


async def test_snapshot_then_ordered_deltas(gateway: StreamGateway, publisher: Publisher) -> None:
    """Subscribe gives subscribed + snapshot; three publishes give three chained deltas."""
    channel = gateway.channel
    first = await publish_ticker(publisher, gateway.asset, 100.0)
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, channel)
        subscribed = await next_frame(ws)
        assert subscribed == {
            "type": "subscribed",
            "channel": channel,
            "epoch": first.epoch,
            "recovered": False,
        }
        snapshot = await next_frame(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == first.seq
        assert snapshot["epoch"] == first.epoch
        state = snapshot["data"]
        assert state["price"] == 100.0

        published = [await publish_ticker(publisher, gateway.asset, p) for p in (101, 102, 103)]
        prev = first.seq
        for expected, price in zip(published, (101.0, 102.0, 103.0), strict=True):
            delta = await next_frame(ws)
            assert delta["type"] == "delta"
            assert delta["channel"] == channel
            assert delta["epoch"] == first.epoch
            assert delta["seq"] == expected.seq
            assert delta["prev_seq"] == prev
            assert "price" in delta["data"]
            assert "asset" not in delta["data"]  # unchanged
            state = apply_delta(state, delta["data"])
            assert state["price"] == price
            prev = expected.seq


async def test_no_value_yet(gateway: StreamGateway, publisher: Publisher) -> None:
    """Before any value the snapshot is null; the first delta then carries the whole value."""
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, gateway.channel)
        assert (await next_frame(ws))["epoch"] is None
        snapshot = await next_frame(ws)
        assert (snapshot["seq"], snapshot["data"]) == (None, None)
        published = await publish_ticker(publisher, gateway.asset, 50.0)
        delta = await next_frame(ws)
        assert delta["seq"] == published.seq
        assert delta["prev_seq"] is None
        assert delta["data"]["asset"] == gateway.asset


async def test_bad_messages_get_error_frames_and_the_connection_stays(
    gateway: StreamGateway,
) -> None:
    """Bad JSON, unknown ops, bad fields and unknown channels each get an error frame."""
    async with ws_connect(gateway.ws_url) as ws:
        await ws.send("{not json")
        assert await next_frame(ws) == {
            "type": "error",
            "code": "bad_request",
            "message": "message is not valid JSON",
            "channel": None,
            "channels": None,
        }
        await ws.send('{"op": "shout"}')
        assert (await next_frame(ws))["code"] == "unknown_op"
        await ws.send('{"op": "subscribe", "channels": []}')
        assert (await next_frame(ws))["code"] == "bad_request"
        await ws.send(b'{"op": "ping"}')
        assert (await next_frame(ws))["code"] == "bad_request"  # binary frames are refused
        await subscribe(ws, "ticker:dogecoin", gateway.channel)
        error = await next_frame(ws)
        assert (error["code"], error["channel"]) == ("unknown_channel", "ticker:dogecoin")
        assert (await next_frame(ws))["type"] == "subscribed"  # the valid one still works
        assert (await next_frame(ws))["type"] == "snapshot"
        await ws.send('{"op": "ping"}')
        assert await next_frame(ws) == {"type": "pong"}


async def test_unsubscribe_stops_deltas(
    gateway: StreamGateway, publisher: Publisher, sentiment: Sentiment
) -> None:
    """After unsubscribe a channel's deltas stop while other subscriptions carry on."""
    sentiment = sentiment.model_copy(update={"asset": gateway.asset})
    ticker, mood = gateway.channel, f"sentiment:{gateway.asset}"
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, ticker, mood)
        assert [(await next_frame(ws))["type"] for _ in range(4)] == [
            "subscribed",
            "snapshot",
            "subscribed",
            "snapshot",
        ]
        await ws.send(orjson.dumps({"op": "unsubscribe", "channels": [ticker]}).decode())
        await ws.send('{"op": "ping"}')
        assert await next_frame(ws) == {"type": "pong"}
        # The reader reads the ticker stream before the sentiment stream, so a ticker delta,
        # if one were sent, would arrive before the sentiment one.
        await publish_ticker(publisher, gateway.asset, 1.0)
        await publisher.publish(Channel(ChannelKind.SENTIMENT, gateway.asset), sentiment)
        delta = await next_frame(ws)
        assert (delta["type"], delta["channel"]) == ("delta", mood)


async def test_every_client_gets_the_same_frames(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """Two clients on one channel receive byte-identical deltas."""
    async with ws_connect(gateway.ws_url) as a, ws_connect(gateway.ws_url) as b:
        for ws in (a, b):
            await subscribe(ws, gateway.channel)
            await next_frame(ws)
            await next_frame(ws)
        await publish_ticker(publisher, gateway.asset, 9.0)
        raw = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        assert raw[0] == raw[1]
        checked_frame(raw[0])


async def test_only_subscribed_channels_arrive(
    gateway: StreamGateway, publisher: Publisher, sentiment: Sentiment
) -> None:
    """A client receives deltas only for the channels it subscribed to."""
    sentiment = sentiment.model_copy(update={"asset": gateway.asset})
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, f"sentiment:{gateway.asset}")
        await next_frame(ws)
        await next_frame(ws)
        await publish_ticker(publisher, gateway.asset, 1.0)
        await publisher.publish(Channel(ChannelKind.SENTIMENT, gateway.asset), sentiment)
        delta = await next_frame(ws)
        assert (delta["type"], delta["channel"]) == ("delta", f"sentiment:{gateway.asset}")


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_heartbeats(redis_url: str, unique: str, direct: bool) -> None:
    """A quiet connection receives heartbeats at the configured interval."""
    async with (
        serve_stream(redis_url, unique, direct=direct, tuning=Tuning(heartbeat_s=0.2)) as gw,
        ws_connect(gw.ws_url) as ws,
    ):
        frames = [checked_frame(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
    assert [f["type"] for f in frames] == ["heartbeat", "heartbeat"]
    assert frames[1]["ts"] > frames[0]["ts"]


async def test_joining_mid_stream_loses_and_repeats_nothing(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """Clients joining while values pour in get a snapshot and then an unbroken seq chain."""
    count = 300
    published = [(await publish_ticker(publisher, gateway.asset, 1.0)).seq]

    async def pour() -> None:
        for price in range(2, count + 2):
            published.append((await publish_ticker(publisher, gateway.asset, price)).seq)

    async def join_and_follow() -> list[str]:
        async with ws_connect(gateway.ws_url) as ws:
            await subscribe(ws, gateway.channel)
            await next_frame(ws)
            snapshot = await next_frame(ws)
            chain, price = [str(snapshot["seq"])], snapshot["data"]["price"]
            while price != count + 1:
                delta = await next_frame(ws)
                assert delta["prev_seq"] == chain[-1]
                chain.append(str(delta["seq"]))
                price = delta["data"]["price"]
            return chain

    pouring = asyncio.create_task(pour())
    joiners = [asyncio.create_task(join_and_follow()) for _ in range(5)]
    await pouring
    for chain in await asyncio.gather(*joiners):
        # Every seq after the snapshot's, in publish order, exactly once.
        assert chain == published[published.index(chain[0]) :]


async def test_frames_and_connections_are_counted(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """The metrics count open connections and the frames written to clients."""
    metrics = gateway.running.metrics
    sent_before = metrics.ws_messages_sent._value.get()
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, gateway.channel)
        await next_frame(ws)
        await next_frame(ws)
        assert metrics.ws_connections._value.get() == 1
        await publish_ticker(publisher, gateway.asset, 3.0)
        await next_frame(ws)
    assert metrics.ws_messages_sent._value.get() - sent_before == 3


async def test_delivery_lag_is_measured_per_channel_kind(
    gateway: StreamGateway, publisher: Publisher
) -> None:
    """publish → written to the subscribers, by channel kind, on /metrics."""
    metrics = gateway.running.metrics
    family = "marketpulse_gateway_ws_delivery_lag_seconds_count"
    before = sample(metrics.render().decode(), family, {"kind": "ticker"}) or 0
    async with ws_connect(gateway.ws_url) as ws:
        await subscribe(ws, gateway.channel)
        await next_frame(ws)
        await next_frame(ws)
        await publish_ticker(publisher, gateway.asset, 3.0)
        await next_frame(ws)
    text = metrics.render().decode()
    assert sample(text, family, {"kind": "ticker"}) == before + 1
    assert (sample(text, "marketpulse_gateway_ws_delivery_lag_seconds_sum", {"kind": "ticker"})
            or 0) >= 0  # fmt: skip
    assert sample(text, "marketpulse_gateway_ws_delivery_lag_seconds_bucket",
                  {"kind": "ticker", "le": "+Inf"}) == before + 1  # fmt: skip
