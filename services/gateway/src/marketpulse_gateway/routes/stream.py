"""`WS /v1/stream`: a reader loop feeding the session and a writer draining the outbox.

The two loops are separate tasks so that a client that stops reading only fills its own
bounded outbox (and is then closed with 4008 by the hub) while its ops are still answered,
and a client that stops sending never holds up its deltas.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from marketpulse_gateway.dependencies import GatewayDep
from marketpulse_gateway.errors import ProtocolError
from marketpulse_gateway.hub import Outbox
from marketpulse_gateway.session import StreamSession

router = APIRouter()

NORMAL_CLOSE_CODE = 1000


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket, gateway: GatewayDep) -> None:
    await websocket.accept()
    outbox = gateway.hub.connect(gateway.tuning.outbox_size)
    session = StreamSession(gateway.hub, outbox, gateway.catalog, gateway.cache)
    loops = [
        asyncio.create_task(_write_frames(websocket, outbox)),
        asyncio.create_task(_read_messages(websocket, session)),
    ]
    try:
        await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gateway.hub.disconnect(outbox)
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


async def _read_messages(websocket: WebSocket, session: StreamSession) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            session.send_error(ProtocolError("bad_request", "send JSON in text frames"))
            continue
        await session.handle(text)


async def _write_frames(websocket: WebSocket, outbox: Outbox) -> None:
    try:
        while (frame := await outbox.next_frame()) is not None:
            await websocket.send_text(frame)
        await websocket.close(code=outbox.close_code or NORMAL_CLOSE_CODE)
    except WebSocketDisconnect:
        return  # the client went away first; the reader loop sees it too
