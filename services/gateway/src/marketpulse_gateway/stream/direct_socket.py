"""The direct socket: uvicorn's sans-I/O WebSocket protocol, extended to let the hub write.

ASGI gives an app one way to send, `await send(message)`, and in uvicorn that call waits
while the connection's transport buffer is over its high-water mark. Per message and client
that path costs a task switch, the ASGI middleware chain and a frame serialisation; measured
at 1,000 clients it was about 2.5x the CPU of a direct transport write, too slow for a fan-out
that must reach every client within milliseconds (bench/bench_ws.py). So this protocol also
offers its connection to the app as a direct socket (the scope extension of sockets.py): the
hub writes each event's prebuilt frame bytes straight into the transport — never waiting,
never re-encoding — and reads the transport's buffer size to hold every client to its limit.
Everything else (handshake, receiving, pings, the closing handshake) stays uvicorn's.

Should a client negotiate an extension although compression is off, the socket falls back
to encoding its frames through the protocol.

The subclass leans on uvicorn's internals (`transport`, `conn`, `close_sent`, `queue`, …);
server.py checks that they are there before it serves with this protocol, and imports this
module only then. tests/integration/gateway run every stream test through both sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from marketpulse_gateway.stream.sockets import EXTENSION
from marketpulse_gateway.stream.wire import Outgoing


class DirectSocket:
    """A connection the hub writes to directly; see the module docstring."""

    __slots__ = ("_close_grace_s", "_plain", "_protocol", "_transport")

    def __init__(self, protocol: DirectWebSocketProtocol, close_grace_s: float) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        # Extensions are settled by the handshake, which is done when this is created.
        self._plain = not protocol.conn.extensions
        # How long a client closed by the server has to read what was queued for it and
        # answer the close; one that does not (a stalled reader) is cut off then.
        self._close_grace_s = close_grace_s

    def write(self, frame: Outgoing) -> int:
        protocol, transport = self._protocol, self._transport
        if protocol.close_sent or protocol.disconnected:
            return 0
        if self._plain:
            transport.write(frame.wire)
        else:
            protocol.conn.send_text(frame.text.encode())
            transport.write(b"".join(protocol.conn.data_to_send()))
        return transport.get_write_buffer_size()

    def close(self, code: int) -> None:
        self._protocol.close_without_waiting(code, self._close_grace_s)


class _Inbox:
    """What uvicorn's protocol needs of its receive queue (`put_nowait`, `get`, `empty`), in
    a fraction of an `asyncio.Queue`'s memory: that allocates four deques up front (about
    3 KB per connection), for messages that arrive a few at a time and one reader."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class _Flag:
    """What uvicorn's protocol needs of its `writable` event (`set`, `clear`, `wait`), without
    the deque an `asyncio.Event` allocates per connection; only the ASGI `send` path (the
    handshake, the portable fallback) ever waits on it."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Held for the connection's life, so kept small: see _Inbox and _Flag.
        self.queue = cast(Any, _Inbox())
        self.writable = cast(Any, _Flag())

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            # The app task is created but has not run yet, so it sees the extension.
            extensions = cast(dict[str, Any], self.scope["extensions"])
            extensions[EXTENSION] = self.open_direct_socket

    def open_direct_socket(self, close_grace_s: float) -> DirectSocket:
        """The extension's value: the app calls it once it has accepted the connection."""
        return DirectSocket(self, close_grace_s)

    async def send(self, message: Mapping[str, Any]) -> None:
        # uvicorn types its ASGI messages in a private module; this only passes them on.
        await super().send(cast(Any, message))
        if message["type"] == "websocket.accept":
            # The handshake is done: its request and response (two header sets) are not
            # needed again, and would otherwise be held for the connection's life.
            self.request = self.response = cast(Any, None)
        elif message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # A denial response (401/403/429) completes the handshake; without this uvicorn
            # logs "returned without completing handshake" at ERROR for every refused client.
            self.handshake_complete = True

    def close_without_waiting(self, code: int, grace_s: float) -> None:
        """uvicorn's ASGI `websocket.close`, minus its wait for the buffer to drain.

        The close frame goes after whatever is already buffered; a peer that reads it
        answers and the transport closes cleanly (`handle_close`), one that never reads is
        aborted after `grace_s`.
        """
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": ""})
        self.conn.send_close(code)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(grace_s, self.transport.abort)
