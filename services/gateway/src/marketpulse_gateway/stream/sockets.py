"""How one connection's frames reach its client: the direct socket when the server offers
one, else the portable queued socket.

A server running the stream's own protocol (direct_socket.py) offers, in the connection's
ASGI scope, the extension `EXTENSION`: a function that opens a direct socket on it. Any other
ASGI server (uvicorn without that protocol, a test client) offers none, and the connection
gets a queued socket with its writer task.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocket

from marketpulse_gateway.stream.hub import ClientSocket
from marketpulse_gateway.stream.queued_socket import QueuedSocket

EXTENSION = "marketpulse.direct_socket"


def open_socket(
    websocket: WebSocket, close_grace_s: float
) -> tuple[ClientSocket, asyncio.Task[None] | None]:
    """The connection's socket, and the writer task the caller owns (None for a direct one).

    `close_grace_s`: how long a client the server closes has to read what was queued for it
    and answer the close; one that does not (a stalled reader) is cut off then.
    """
    extensions: dict[str, Any] = websocket.scope.get("extensions") or {}
    open_direct = extensions.get(EXTENSION)
    if open_direct is not None:
        socket: ClientSocket = open_direct(close_grace_s)
        return socket, None
    queued = QueuedSocket(websocket, close_grace_s)
    return queued, queued.start()
