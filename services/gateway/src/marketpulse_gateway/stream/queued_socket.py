"""The portable client socket: a bounded queue and a writer task that sends through ASGI.

Used when the server offers no direct socket (see sockets.py): any ASGI server, Starlette's
test client. The hub still never waits — it appends to the queue — and a client whose queue
overflows is cut off from the hub at once. As on the direct socket, the close frame follows
what is already queued, and the writer has `close_grace_s` to get it out; if the client does
not read, the writer gives up and the connection is left to the server (ASGI offers no way
to abort one; uvicorn's stock protocol holds it until its keepalive fails and the buffer
drains).
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from marketpulse_gateway.stream.wire import Outgoing


class QueuedSocket:
    __slots__ = ("_bytes", "_frames", "_grace_s", "_wake", "_websocket", "_writer", "close_code")

    def __init__(self, websocket: WebSocket, close_grace_s: float) -> None:
        self._websocket = websocket
        self._grace_s = close_grace_s
        self._frames: deque[Outgoing] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.close_code: int | None = None

    def start(self) -> asyncio.Task[None]:
        """Start the writer task; the caller owns it (awaits or cancels it)."""
        self._writer = asyncio.create_task(self._send_all(), name="ws-writer")
        return self._writer

    def write(self, frame: Outgoing) -> int:
        if self.close_code is None:
            self._frames.append(frame)
            self._bytes += frame.size
            self._wake.set()
        return self._bytes

    def close(self, code: int) -> None:
        if self.close_code is not None:
            return
        self.close_code = code
        self._wake.set()
        if self._writer is not None:
            asyncio.get_running_loop().call_later(self._grace_s, self._writer.cancel)

    async def _send_all(self) -> None:
        websocket = self._websocket
        try:
            while True:
                while self._frames:
                    frame = self._frames.popleft()
                    self._bytes -= frame.size
                    await websocket.send_text(frame.text)
                if self.close_code is not None:
                    break
                await self._wake.wait()
                self._wake.clear()
            await websocket.close(self.close_code)
        except (WebSocketDisconnect, WebSocketDisconnected):
            return  # the client left (or the connection was already closed)
