"""How uvicorn serves the stream: its sans-I/O WebSocket protocol, plus a direct socket.

ASGI gives an app one way to send, `await send(message)`, and in uvicorn that call waits
while the connection's transport buffer is over its high-water mark. Per message and client
that path costs a task switch, the ASGI middleware chain and a frame serialisation; measured
at 1,000 clients it was about 2.5x the CPU of a direct transport write, too slow for a fan-out
that must reach every client within milliseconds (bench/bench_ws.py). So this protocol also
offers its connection to the app as a `DirectSocket` (an ASGI scope extension): the hub
writes each event's prebuilt frame bytes straight into the transport — never waiting, never
re-encoding — and reads the transport's buffer size to hold every client to its limit.
Everything else (handshake, receiving, pings, the closing handshake) stays uvicorn's.

Compression is off (`ws_per_message_deflate=False`): a deflated frame differs per client and
costs CPU per client, and deltas are a few hundred bytes. Should a client still negotiate an
extension, the socket falls back to encoding its frames through the protocol.

An app served without this protocol (another server, a test client) gets no extension and
uses the portable queued socket instead (queued_socket.py). The subclass leans on attributes
of uvicorn's protocol (`transport`, `conn`, `close_sent`, `queue`, …): uvicorn is pinned in
uv.lock, and tests/integration/gateway run every stream test through both sockets.
"""

from __future__ import annotations

from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from marketpulse_common.settings import Settings
from marketpulse_gateway.stream.wire import Outgoing

EXTENSION = "marketpulse.direct_socket"
# How long a client closed by the server has to read what was queued for it and answer the
# close; one that does not (a stalled reader) is cut off then, freeing its buffer.
CLOSE_GRACE_S = 5.0


class DirectSocket:
    """A connection the hub writes to directly; see the module docstring."""

    __slots__ = ("_plain", "_protocol", "_transport", "close_grace_s")

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        # Extensions are settled by the handshake, which is done when this is created.
        self._plain = not protocol.conn.extensions
        self.close_grace_s = CLOSE_GRACE_S

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
        self._protocol.close_without_waiting(code, self.close_grace_s)


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            # The app task is created but has not run yet, so it sees the extension.
            extensions = cast(dict[str, Any], self.scope["extensions"])
            extensions[EXTENSION] = DirectSocket(self)

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
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


def ws_server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`/`uvicorn.Config` that serve the stream as designed."""
    return {
        "ws": DirectWebSocketProtocol,
        # Oversized client messages are refused by the protocol itself with 1009.
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
    }
