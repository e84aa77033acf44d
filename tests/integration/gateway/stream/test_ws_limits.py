"""Limits and close codes: message size (1009), channels, subscribe and message rates, abuse
(1008); refused messages get `error` frames and the connection stays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.runtime import Tuning
from marketpulse_gateway.stream.limits import RateLimits
from tests.integration.gateway.ws_support import (
    Frame,
    StreamGateway,
    next_frame,
    send_op,
    serve_stream,
    ws_connect,
)

pytestmark = pytest.mark.redis

# Rates that never refill during a test, so what is refused is exact.
STILL = RateLimits(
    messages_per_s=0.0,
    message_burst=1000,
    channels_per_s=0.0,
    channel_burst=1000,
    strikes=1000,
    strikes_forgiven_per_s=0.0,
)


@asynccontextmanager
async def client(
    redis_url: str, unique: str, direct: bool, rates: RateLimits = STILL, **settings: object
) -> AsyncIterator[tuple[StreamGateway, ClientConnection]]:
    tuning = Tuning(ws_rates=rates)
    async with (
        serve_stream(redis_url, unique, direct=direct, tuning=tuning, **settings) as gateway,
        ws_connect(gateway.ws_url) as ws,
    ):
        yield gateway, ws


async def frames_until_closed(ws: ClientConnection) -> list[Frame]:
    """Every frame until the server closes the connection (then see `ws.close_code`)."""
    frames = []
    try:
        while True:
            frames.append(await next_frame(ws))
    except ConnectionClosed:
        return frames


async def subscribe(ws: ClientConnection, *channels: str) -> list[Frame]:
    """Subscribe and collect the answers: an error, or subscribed + snapshot per channel."""
    await send_op(ws, {"op": "subscribe", "channels": list(channels)})
    first = await next_frame(ws)
    if first["type"] == "error":
        return [first]
    return [first, *[await next_frame(ws) for _ in range(2 * len(channels) - 1)]]


def dropped(metrics: GatewayMetrics, reason: str) -> float:
    return float(metrics.ws_clients_dropped.labels(reason)._value.get())


both = pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])


@both
async def test_too_big_message_closes_1009(redis_url: str, unique: str, direct: bool) -> None:
    """A client message over MP_WS_MAX_MESSAGE_BYTES closes the connection with 1009."""
    async with client(redis_url, unique, direct, ws_max_message_bytes=1024) as (gateway, ws):
        metrics = gateway.running.metrics
        await ws.send('{"op": "ping"}' + " " * 1024)
        assert await frames_until_closed(ws) == []
        assert ws.close_code == 1009
    assert dropped(metrics, "too_big") == 1  # counted once the gateway let go of it


@both
async def test_message_at_the_limit_is_read(redis_url: str, unique: str, direct: bool) -> None:
    """A message of exactly the limit is still read and answered."""
    async with client(redis_url, unique, direct, ws_max_message_bytes=1024) as (_, ws):
        message = '{"op": "ping"}'
        await ws.send(message + " " * (1024 - len(message)))
        assert await next_frame(ws) == {"type": "pong"}


@both
async def test_channels_per_connection_are_limited(
    redis_url: str, unique: str, direct: bool
) -> None:
    """Past MP_WS_MAX_CHANNELS a subscribe is refused whole with too_many_channels; channels
    already held do not count twice, and unsubscribing makes room."""
    ticker, mood, candles = f"ticker:{unique}", f"sentiment:{unique}", f"candles:{unique}:1h"
    async with client(redis_url, unique, direct, ws_max_channels=2) as (_, ws):
        refused = await subscribe(ws, ticker, mood, candles)
        assert [(f["type"], f["code"]) for f in refused] == [("error", "too_many_channels")]
        assert refused[0]["channels"] == [ticker, mood, candles]  # which subscribe it answers
        assert len(await subscribe(ws, ticker, mood)) == 4
        assert len(await subscribe(ws, ticker)) == 2  # already held
        assert (await subscribe(ws, candles))[0]["code"] == "too_many_channels"
        await send_op(ws, {"op": "unsubscribe", "channels": [mood]})
        assert [f["type"] for f in await subscribe(ws, candles)] == ["subscribed", "snapshot"]


@both
async def test_subscribe_rate_is_limited(redis_url: str, unique: str, direct: bool) -> None:
    """Each channel subscribed takes a token; without tokens a subscribe is rate_limited and
    the connection stays."""
    rates = RateLimits(channels_per_s=0.0, channel_burst=3, strikes=100)
    async with client(redis_url, unique, direct, rates) as (_, ws):
        assert len(await subscribe(ws, f"ticker:{unique}", f"sentiment:{unique}")) == 4
        assert len(await subscribe(ws, f"ticker:{unique}")) == 2
        error = (await subscribe(ws, f"candles:{unique}:1h"))[0]
        assert (error["type"], error["code"]) == ("error", "rate_limited")
        assert error["channels"] == [f"candles:{unique}:1h"]
        await send_op(ws, {"op": "ping"})
        assert await next_frame(ws) == {"type": "pong"}


@both
async def test_message_rate_is_limited(redis_url: str, unique: str, direct: bool) -> None:
    """Beyond the message burst, messages are answered with rate_limited."""
    rates = RateLimits(messages_per_s=0.0, message_burst=3, strikes=100)
    async with client(redis_url, unique, direct, rates) as (_, ws):
        for _ in range(5):
            await send_op(ws, {"op": "ping"})
        await send_op(ws, {"op": "subscribe", "channels": [f"ticker:{unique}"]})
        answers = [await next_frame(ws) for _ in range(6)]
        assert [a["type"] for a in answers] == ["pong"] * 3 + ["error"] * 3
        assert {a.get("code") for a in answers[3:]} == {"rate_limited"}
        # A refused subscribe names its channels, so a client knows which op it answers.
        assert [a["channels"] for a in answers[3:]] == [None, None, [f"ticker:{unique}"]]


@both
async def test_sustained_abuse_closes_1008(redis_url: str, unique: str, direct: bool) -> None:
    """A client that keeps sending refused messages is closed with 1008 after its strikes."""
    rates = RateLimits(strikes=3, strikes_forgiven_per_s=0.0)
    async with client(redis_url, unique, direct, rates) as (gateway, ws):
        metrics = gateway.running.metrics
        for _ in range(6):
            await ws.send("{not json")
        frames = await frames_until_closed(ws)
        assert ws.close_code == 1008
        # Three strikes tolerated; the fourth is answered, then the connection is closed.
        assert [f["code"] for f in frames] == ["bad_request"] * 4
    assert dropped(metrics, "policy") == 1


@both
async def test_unknown_channels_are_not_held_against_a_client(
    redis_url: str, unique: str, direct: bool
) -> None:
    """Unknown channels are answered with errors but are no strike: the connection stays."""
    rates = RateLimits(strikes=1, strikes_forgiven_per_s=0.0)
    async with client(redis_url, unique, direct, rates) as (_, ws):
        for _ in range(3):
            await send_op(ws, {"op": "subscribe", "channels": ["ticker:dogecoin"]})
            assert (await next_frame(ws))["code"] == "unknown_channel"
        await send_op(ws, {"op": "ping"})
        assert await next_frame(ws) == {"type": "pong"}


@both
async def test_subscribes_wait_until_the_stream_is_live(
    redis_url: str, unique: str, direct: bool
) -> None:
    """Until the reader knows every stream's position (it only primes the hub with the newest
    entry it finds), a subscribe is refused with `unavailable`, no strike: a snapshot taken
    then could be followed by updates no subscriber is sent."""
    async with client(redis_url, unique, direct) as (gateway, ws):
        reader = gateway.app.gateway.reader  # the edge holds the running gateway
        reader.ready.clear()  # as at a start while Redis is still unreachable
        refused = await subscribe(ws, f"ticker:{unique}")
        assert [(f["type"], f["code"]) for f in refused] == [("error", "unavailable")]
        assert refused[0]["channels"] == [f"ticker:{unique}"]
        reader.ready.set()
        assert [f["type"] for f in await subscribe(ws, f"ticker:{unique}")] == [
            "subscribed",
            "snapshot",
        ]


@both
async def test_a_subscribe_refused_as_unavailable_costs_no_subscribe_tokens(
    redis_url: str, unique: str, direct: bool
) -> None:
    """Clients retry `unavailable`; if each refused try took its channels' tokens, a
    dashboard retrying its subscribe while the stream is not yet live would be refused
    `rate_limited` once it is (a strike each, then 1008)."""
    channel = f"ticker:{unique}"
    rates = RateLimits(channels_per_s=0.0, channel_burst=1, strikes=1000)
    async with client(redis_url, unique, direct, rates) as (gateway, ws):
        reader = gateway.app.gateway.reader
        reader.ready.clear()
        for _ in range(3):
            assert [f["code"] for f in await subscribe(ws, channel)] == ["unavailable"]
        reader.ready.set()
        assert [f["type"] for f in await subscribe(ws, channel)] == ["subscribed", "snapshot"]
