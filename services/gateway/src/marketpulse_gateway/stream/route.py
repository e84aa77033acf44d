"""`WS /v1/stream`: admit the handshake, then feed the client's messages to its session.

Admission, before the connection is accepted: an `Origin` outside MP_CORS_ORIGINS (when set)
is refused with 403; then the API key (header or `?api_key=`) and the per-key / per-address
rate limit, as for REST (401 / 429 / 503). Refusals are problem+json HTTP answers where the
server supports denial responses, else a close before accept (uvicorn: 403).

Frames reach the client through the hub and the connection's client socket (sockets.py): the
direct socket when the server offers one (direct_socket.py), else a queued socket drained by
its own writer task (queued_socket.py). Nothing on the hub's path awaits a client, so one that stops
reading only fills its own bounded buffer (and is then closed with 4008), and one that stops
sending holds up nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket

from marketpulse_gateway.admission import Denial, presented_key
from marketpulse_gateway.errors import ProtocolError
from marketpulse_gateway.problems import denial_response
from marketpulse_gateway.stream.context import GatewayDep, StreamContext
from marketpulse_gateway.stream.hub import Outbox
from marketpulse_gateway.stream.limits import StreamLimits
from marketpulse_gateway.stream.protocol import CLOSE_POLICY, CLOSE_TOO_BIG
from marketpulse_gateway.stream.session import StreamSession
from marketpulse_gateway.stream.sockets import open_socket

router = APIRouter()

# Served by the edge directly once the gateway runs (rest/edge.py), by this router before.
STREAM_PATH = "/v1/stream"

ORIGIN_REFUSED = Denial(
    403,
    "origin-not-allowed",
    "Origin not allowed",
    "This page's origin is not one of the gateway's allowed origins (MP_CORS_ORIGINS).",
)


@router.websocket(STREAM_PATH)
async def stream(websocket: WebSocket, gateway: GatewayDep) -> None:
    denial = await _admission(websocket, gateway)
    if denial is not None:
        await _refuse(websocket, denial)
        return
    await websocket.accept()
    limits = StreamLimits.from_settings(gateway.settings, gateway.tuning.ws_rates)
    socket, writer = open_socket(websocket, gateway.tuning.ws_close_grace_s)
    outbox = gateway.hub.connect(socket, limits.queue_bytes)
    session = StreamSession(
        gateway.hub,
        outbox,
        gateway.catalog,
        gateway.history,
        limits,
        ready=lambda: gateway.stream_ready,
    )
    gateway.metrics.ws_connections.inc()
    try:
        reading = _read_messages(websocket, session, outbox, limits.max_message_bytes)
        peer_code = await (reading if writer is None else _until_either(reading, writer))
        if peer_code == CLOSE_TOO_BIG and outbox.close_code is None:
            # uvicorn's protocol refused an oversized message itself, before the app saw it.
            gateway.hub.observer.closed(CLOSE_TOO_BIG)
    finally:
        gateway.hub.disconnect(outbox)
        if writer is not None:
            await _finish(writer, closing=outbox.close_code is not None)
        gateway.metrics.ws_connections.dec()


async def _admission(websocket: WebSocket, gateway: StreamContext) -> Denial | None:
    cors = gateway.access.cors
    # Without an allowlist any page may connect: keys, not cookies, carry the authority.
    if cors.enabled and not cors.origin_allowed(websocket.headers.get("origin")):
        return ORIGIN_REFUSED
    client = websocket.client
    presented = presented_key(websocket.headers, websocket.query_params)
    return await gateway.access.admit(presented, client.host if client else None)


async def _refuse(websocket: WebSocket, denial: Denial) -> None:
    if "websocket.http.response" not in websocket.scope.get("extensions", {}):
        await websocket.close(CLOSE_POLICY)
        return
    await websocket.send_denial_response(denial_response(denial))


async def _read_messages(
    websocket: WebSocket, session: StreamSession, outbox: Outbox, max_bytes: int
) -> int | None:
    """Until the connection ends; returns the code of the disconnect, if one was received."""
    while outbox.close_code is None:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return int(message.get("code") or 0) or None
        text: str | None = message.get("text")
        size = len(text.encode()) if text is not None else len(message.get("bytes") or b"")
        if size > max_bytes:
            outbox.close(CLOSE_TOO_BIG)
        elif text is None:
            session.reject(ProtocolError("bad_request", "send JSON in text frames"))
        else:
            await session.handle(text)
    return None


async def _until_either(
    reading: Coroutine[Any, Any, int | None], writer: asyncio.Task[None]
) -> int | None:
    """Read until the peer leaves or the writer is done (it closed the connection or gave up
    on a client that stopped reading, which may also never send again)."""
    reader = asyncio.create_task(reading)
    try:
        await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()  # a no-op when it finished first
        await asyncio.gather(reader, return_exceptions=True)
    return None if reader.cancelled() else reader.result()


async def _finish(writer: asyncio.Task[None], *, closing: bool) -> None:
    # A close the server chose is still being sent (the socket's grace bounds it); after the
    # peer left there is nothing to send.
    if not closing:
        writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
