"""The client's socket loop against a scripted WebSocket peer over loopback: how it treats
close codes, a refused handshake, a silent connection, and shared subscriptions.

The peer plays a gateway whose behaviour the test chooses (a real gateway cannot be told to
go silent or refuse on cue); the real gateway is exercised in tests/system/clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from marketpulse_client import (
    AuthenticationError,
    Backoff,
    ClientClosed,
    ConnectionState,
    MarketPulse,
    StreamStopped,
    Update,
)
from tests.unit.clients.frames_for_tests import delta, error, snapshot, subscribed
from tests.waiting import eventually

CH = "ticker:bitcoin"
Handler = Callable[[ServerConnection, int], Awaitable[None]]


class Peer:
    """A scripted gateway: `handler(ws, n)` serves the n-th connection (0-based)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.received: list[list[dict[str, Any]]] = []

    async def serve(self, ws: ServerConnection) -> None:
        n = self.connections
        self.connections += 1
        self.received.append([])
        await self.handler(ws, n)

    async def next_op(self, ws: ServerConnection, n: int) -> dict[str, Any]:
        op: dict[str, Any] = json.loads(await ws.recv())
        self.received[n].append(op)
        return op


@asynccontextmanager
async def peer_at(handler: Handler, process_request: Any = None) -> AsyncIterator[tuple[Peer, str]]:
    peer = Peer(handler)
    async with serve(peer.serve, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield peer, f"http://127.0.0.1:{port}"


def quick_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05)


async def first_subscription(peer: Peer, ws: ServerConnection, n: int, seq: str) -> None:
    """Answer the client's subscribe (with a snapshot at `seq` unless it resumed)."""
    op = await peer.next_op(ws, n)
    assert op["op"] == "subscribe"
    if "resume" in op:
        await ws.send(subscribed(CH, recovered=True))
    else:
        await ws.send(subscribed(CH))
        await ws.send(snapshot(CH, seq, {"price": 1}))


async def test_a_4008_close_reconnects_and_resumes_from_the_held_position() -> None:
    """Closed as too slow: the next connection resumes with {epoch, seq}; the missed delta
    applies on top of the held value."""

    async def handler(ws: ServerConnection, n: int) -> None:
        await first_subscription(peer, ws, n, "10-0")
        if n == 0:
            await ws.send(delta(CH, "11-0", "10-0", {"price": 2}))
            await ws.close(4008, "slow")
            return
        await ws.send(delta(CH, "12-0", "11-0", {"price": 3}))
        await ws.wait_closed()

    updates: list[Update] = []
    async with peer_at(handler) as (peer, url), MarketPulse(url, backoff=quick_backoff()) as mp:
        mp.subscribe(CH, updates.append)
        await eventually(lambda: _async(len(updates) == 3), what="three updates")
        assert peer.received[1][0]["resume"] == {CH: {"epoch": "e1", "seq": "11-0"}}
        assert [u.seq for u in updates] == ["10-0", "11-0", "12-0"]
        assert mp.value(CH) == {"price": 3}
        diagnostics = mp.diagnostics()
        assert diagnostics.close_codes[4008] == 1 and diagnostics.resumes_recovered == 1


async def test_a_silent_connection_is_dropped_after_two_missed_heartbeats() -> None:
    """No frame for 2 heartbeats: state goes stale, then the client reconnects by itself."""
    states: list[ConnectionState] = []

    async def handler(ws: ServerConnection, n: int) -> None:
        await first_subscription(peer, ws, n, "10-0")
        await ws.wait_closed()  # and never a heartbeat

    async with (
        peer_at(handler) as (peer, url),
        MarketPulse(
            url, heartbeat_interval=0.3, backoff=quick_backoff(), on_state=states.append
        ) as mp,  # fmt: skip
    ):
        mp.subscribe(CH)
        await eventually(lambda: _async(peer.connections >= 2), timeout=5, what="a reconnect")
        assert ConnectionState.STALE in states
        assert states.index(ConnectionState.STALE) < states.index(ConnectionState.RECONNECTING)
        await eventually(lambda: _async(mp.diagnostics().resumes_recovered >= 1), what="resume")


async def test_heartbeats_keep_a_quiet_connection_alive() -> None:
    """A connection that only hears heartbeats is live, and is not replaced."""

    async def handler(ws: ServerConnection, n: int) -> None:
        await first_subscription(peer, ws, n, "10-0")
        for _ in range(12):
            await asyncio.sleep(0.1)
            await ws.send('{"type":"heartbeat","ts":1.0}')
        await ws.wait_closed()

    async with (
        peer_at(handler) as (peer, url),
        MarketPulse(url, heartbeat_interval=0.3, backoff=quick_backoff()) as mp,
    ):
        mp.subscribe(CH)
        await eventually(lambda: _async(mp.diagnostics().heartbeats >= 10), what="heartbeats")
        assert peer.connections == 1 and mp.state is ConnectionState.LIVE


async def test_a_policy_close_stops_the_stream_with_a_typed_error() -> None:
    """1008 is not retried: updates() raises StreamStopped and no second connection comes."""

    async def handler(ws: ServerConnection, n: int) -> None:
        await peer.next_op(ws, n)
        await ws.close(1008, "too many refused messages")

    async with peer_at(handler) as (peer, url), MarketPulse(url, backoff=quick_backoff()) as mp:
        with pytest.raises(StreamStopped) as stopped:
            async for _ in mp.updates(CH):
                pass
        assert stopped.value.code == 1008
        assert mp.state is ConnectionState.CLOSED
        assert peer.connections == 1


async def test_a_refused_key_stops_with_an_authentication_error() -> None:
    """A 401 at the handshake is the gateway's problem+json as AuthenticationError, once."""
    attempts = 0

    def refuse(_conn: ServerConnection, _request: Request) -> Response:
        nonlocal attempts
        attempts += 1
        body = b'{"type":"urn:marketpulse:problem:invalid-api-key","title":"Invalid API key",'
        body += b'"status":401,"detail":"The API key is unknown or revoked."}'
        headers = Headers([("Content-Type", "application/problem+json")])
        return Response(401, "Unauthorized", headers, body)

    async def never(_ws: ServerConnection, _n: int) -> None:
        raise AssertionError("the handshake should have been refused")

    async with (
        peer_at(never, process_request=refuse) as (_peer, url),
        MarketPulse(url, api_key="mp_bad", backoff=quick_backoff()) as mp,
    ):
        sub = mp.subscribe(CH)
        await eventually(lambda: _async(sub.error is not None), what="the refusal")
        assert isinstance(sub.error, AuthenticationError)
        assert sub.error.title == "Invalid API key" and sub.error.status == 401
        assert attempts == 1


async def test_listeners_of_one_channel_share_one_server_subscription() -> None:
    """Two subscribes and an updates() on one channel: the server sees it subscribed once;
    a late listener gets the current value at once."""

    async def handler(ws: ServerConnection, n: int) -> None:
        await first_subscription(peer, ws, n, "10-0")
        await ws.send(delta(CH, "11-0", "10-0", {"price": 2}))
        with contextlib.suppress(ConnectionClosed):
            while True:
                await peer.next_op(ws, n)

    first: list[Update] = []
    late: list[Update] = []
    async with peer_at(handler) as (peer, url), MarketPulse(url) as mp:
        one = mp.subscribe(CH, first.append)
        await eventually(lambda: _async(len(first) == 2), what="two updates")
        two = mp.subscribe(CH, late.append)
        await eventually(lambda: _async(len(late) == 1), what="the current value")
        assert late[0].value == {"price": 2} and late[0].seq == "11-0"
        ops = peer.received[0]
        assert [op["op"] for op in ops] == ["subscribe"] and ops[0]["channels"] == [CH]
        one.unsubscribe()
        two.unsubscribe()
        await eventually(lambda: _async(len(peer.received[0]) == 2), what="an unsubscribe")
        assert peer.received[0][1] == {"op": "unsubscribe", "channels": [CH]}


async def test_an_error_callback_that_raises_stops_only_its_own_channel() -> None:
    """The gateway refuses one channel; that subscription's on_error raises. The stream
    carries on: the other channel keeps updating on the same connection."""
    bad = "ticker:nowhere"

    async def handler(ws: ServerConnection, n: int) -> None:
        while True:
            op = await peer.next_op(ws, n)
            if op["op"] != "subscribe":
                continue
            for channel in op["channels"]:
                if channel == bad:
                    await ws.send(error("unknown_channel", "no such asset", bad))
                else:
                    await ws.send(subscribed(channel))
                    await ws.send(snapshot(channel, "10-0", {"price": 1}))
                    await ws.send(delta(channel, "11-0", "10-0", {"price": 2}))

    def explode(_error: Exception) -> None:
        raise RuntimeError("the app's handler failed")

    seen: list[Update] = []
    with contextlib.suppress(ConnectionClosed):
        async with peer_at(handler) as (peer, url), MarketPulse(url) as mp:
            mp.subscribe(bad, on_error=explode)
            mp.subscribe(CH, seen.append)
            await eventually(lambda: _async(len(seen) == 2), what="the good channel's updates")
            assert peer.connections == 1 and mp.state is not ConnectionState.CLOSED


async def test_a_closed_client_stays_closed() -> None:
    """After aclose(), a subscribe gets ClientClosed instead of opening a connection that
    nothing would ever close; updates() raises it."""

    async def handler(ws: ServerConnection, n: int) -> None:
        await first_subscription(peer, ws, n, "10-0")
        await ws.wait_closed()

    async with peer_at(handler) as (peer, url):
        mp = MarketPulse(url)
        first = mp.subscribe(CH)
        await eventually(lambda: _async(first.synced), what="the first subscription")
        await mp.aclose()
        late = mp.subscribe("ticker:ethereum")
        assert isinstance(late.error, ClientClosed) and isinstance(mp.error, ClientClosed)
        with pytest.raises(ClientClosed):
            async for _ in mp.updates(CH):
                pass
        assert mp.state is ConnectionState.CLOSED and peer.connections == 1


async def answer_every_subscribe(peer: Peer, ws: ServerConnection, n: int) -> None:
    """Subscribed + a snapshot for every channel, until the client goes."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            op = await peer.next_op(ws, n)
            for channel in op["channels"] if op["op"] == "subscribe" else ():
                await ws.send(subscribed(channel))
                await ws.send(snapshot(channel, "10-0", {"price": 1}))


async def test_aclose_from_inside_a_callback_returns() -> None:
    """An app that closes the client from its own listener (the reader's task) is not left
    waiting for that task to end: aclose returns, and the connection is closed."""
    closed: list[bool] = []

    async def close_from_callback(_update: Update) -> None:
        async with asyncio.timeout(5):  # in this task: wait_for would run it in another
            await mp.aclose()
        closed.append(True)

    async with peer_at(lambda ws, n: answer_every_subscribe(peer, ws, n)) as (peer, url):
        mp = MarketPulse(url)
        mp.subscribe(CH, close_from_callback)
        await eventually(lambda: _async(closed == [True]), what="aclose to return")
        assert mp.state is ConnectionState.CLOSED and isinstance(mp.error, ClientClosed)
        await eventually(lambda: _async(mp._task is not None and mp._task.done()),
                         what="the stream task to end")  # fmt: skip


async def test_aclose_ends_every_iterator_and_waiter() -> None:
    """updates() iterators and wait_synced() callers get ClientClosed; no one hangs."""

    async def subscribed_only(ws: ServerConnection, n: int) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                op = await peer.next_op(ws, n)
                for channel in op.get("channels", ()) if op["op"] == "subscribe" else ():
                    await ws.send(subscribed(channel))  # and no snapshot, ever

    async def iterate() -> None:
        async for _ in mp.updates(CH):
            pass

    async with peer_at(subscribed_only) as (peer, url):
        mp = MarketPulse(url)
        sub = mp.subscribe("ticker:ethereum")
        iterating = asyncio.create_task(iterate())
        waiting = asyncio.create_task(sub.wait_synced())
        await eventually(lambda: _async(len(peer.received) == 1 and len(peer.received[0]) >= 1),
                         what="a subscribe")  # fmt: skip
        await mp.aclose()
        for task in (iterating, waiting):
            with pytest.raises(ClientClosed):
                await asyncio.wait_for(task, timeout=5)
        assert isinstance(sub.error, ClientClosed)


async def test_a_client_closed_before_it_ever_connected_says_closed() -> None:
    mp = MarketPulse("http://127.0.0.1:9")
    await mp.aclose()
    assert mp.state is ConnectionState.CLOSED and isinstance(mp.error, ClientClosed)


async def test_a_stopped_slow_updates_consumer_does_not_freeze_the_stream() -> None:
    """An updates() consumer with a full buffer stops iterating: the reader, waiting to hand
    it one more update, is freed, and every other channel keeps flowing."""
    other = "ticker:ethereum"
    go_on = asyncio.Event()

    async def handler(ws: ServerConnection, n: int) -> None:
        channels: set[str] = set()
        while channels != {CH, other}:
            op = await peer.next_op(ws, n)
            channels.update(op["channels"])
        for channel in (CH, other):
            await ws.send(subscribed(channel))
            await ws.send(snapshot(channel, "10-0", {"price": 1}))
        for i in range(11, 20):  # more than the consumer's buffer holds
            await ws.send(delta(CH, f"{i}-0", f"{i - 1}-0", {"price": i}))
        await go_on.wait()
        await ws.send(delta(other, "11-0", "10-0", {"price": 2}))
        with contextlib.suppress(ConnectionClosed):
            while True:
                await peer.next_op(ws, n)

    seen: list[Update] = []
    async with peer_at(handler) as (peer, url), MarketPulse(url) as mp:
        mp.subscribe(other, seen.append)
        async with contextlib.aclosing(mp.updates(CH, buffer=2)) as updates:
            async for _ in updates:
                await eventually(lambda: _async(len(seen) == 1), what="the other snapshot")
                await asyncio.sleep(0)  # let the reader fill the buffer and wait
                break
        go_on.set()
        await eventually(lambda: _async(len(seen) == 2), timeout=5, what="the other's delta")


async def test_saved_positions_are_synced_only_once_the_gateway_confirms_them() -> None:
    """wait_synced() on a channel resumed from stored positions waits for the gateway's
    answer: the stored value is a start, not a value from the gateway."""
    answer = asyncio.Event()

    async def handler(ws: ServerConnection, n: int) -> None:
        op = await peer.next_op(ws, n)
        assert op["resume"] == {CH: {"epoch": "e1", "seq": "10-0"}}
        await answer.wait()
        await ws.send(subscribed(CH, recovered=True))
        await ws.wait_closed()

    saved = {CH: {"epoch": "e1", "seq": "10-0", "value": {"price": 1}}}
    async with peer_at(handler) as (peer, url), MarketPulse(url, resume_from=saved) as mp:
        sub = mp.subscribe(CH)
        waiting = asyncio.create_task(sub.wait_synced())
        await eventually(lambda: _async(len(peer.received) == 1 and len(peer.received[0]) == 1),
                         what="the resuming subscribe")  # fmt: skip
        assert not waiting.done()
        answer.set()
        assert await asyncio.wait_for(waiting, timeout=5) == {"price": 1}


@pytest.mark.parametrize("channel", ["", "x" * 97])
async def test_a_channel_name_the_gateway_would_refuse_is_refused_at_once(channel: str) -> None:
    """Sent, it would make the gateway refuse the whole subscribe op, stalling every channel
    that shared it."""
    async with MarketPulse("http://127.0.0.1:9") as mp:
        with pytest.raises(ValueError, match="channel"):
            mp.subscribe(channel)
        assert mp._task is None


async def test_the_state_stays_connecting_until_a_first_connection_opens() -> None:
    """Like the TypeScript client: `reconnecting` means a connection was lost."""
    attempts = 0
    states: list[ConnectionState] = []

    def busy(_conn: ServerConnection, _request: Request) -> Response:
        nonlocal attempts
        attempts += 1
        return Response(503, "Service Unavailable", Headers(), b"")

    async def never(_ws: ServerConnection, _n: int) -> None:
        raise AssertionError("the handshake should have been refused")

    async with (
        peer_at(never, process_request=busy) as (_peer, url),
        MarketPulse(url, backoff=quick_backoff(), on_state=states.append) as mp,
    ):
        mp.subscribe(CH)
        await eventually(lambda: _async(attempts >= 3), what="three refused attempts")
        assert mp.state is ConnectionState.CONNECTING and states == []


async def _async(value: Any) -> Any:
    return value
