"""WebSocket test support: a gateway served either way, clients, and a reader of seq chains.

`serve_stream(..., direct=True)` serves the gateway as `python -m marketpulse_gateway` does
(uvicorn with the stream's protocol, stream/server.py); `direct=False` with uvicorn's stock
protocol, so the portable queued socket is exercised too.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from marketpulse_common.settings import Settings, load_settings
from marketpulse_gateway.app import create_app
from marketpulse_gateway.runtime import Gateway, Tuning
from marketpulse_gateway.stream.delta import apply_delta
from marketpulse_gateway.stream.server import ws_server_options
from tests.asyncapi_frames import checked_frame
from tests.integration.gateway.conftest import TIMEFRAMES, wait_until

Frame = dict[str, Any]


@dataclass(frozen=True)
class StreamGateway:
    ws_url: str
    port: int
    asset: str
    settings: Settings
    app: Any  # the ASGI entry point; `.gateway` while serving
    server: uvicorn.Server

    @property
    def open_connections(self) -> int:
        """Connections uvicorn still holds (HTTP and WebSocket)."""
        return len(self.server.server_state.connections)

    @property
    def running(self) -> Gateway:
        gateway = self.app.gateway
        assert gateway is not None
        return gateway  # type: ignore[no-any-return]

    @property
    def channel(self) -> str:
        return f"ticker:{self.asset}"


@asynccontextmanager
async def serve_stream(
    redis_url: str,
    asset: str,
    *,
    direct: bool = True,
    tuning: Tuning | None = None,
    base: type | None = None,
    **overrides: Any,
) -> AsyncIterator[StreamGateway]:
    """A gateway for `asset` on a free loopback port, served as production serves it (direct)
    or with uvicorn's stock WebSocket protocol (the queued socket). `base` stands in for
    uvicorn's sans-I/O protocol when the server options are made (see stream/server.py)."""
    settings = load_settings(
        redis_url=redis_url, assets=[asset], timeframes=TIMEFRAMES, **overrides
    )
    app = create_app(settings, tuning=tuning)
    options = ws_server_options(settings, base=base) if direct else {}
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done())
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped during start-up")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield StreamGateway(f"ws://127.0.0.1:{port}/v1/stream", port, asset, settings, app, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def ws_connect(url: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    async with connect(url, open_timeout=5, close_timeout=2, **kwargs) as ws:
        yield ws


async def send_op(ws: ClientConnection, op: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(op).decode())


async def next_frame(ws: ClientConnection, timeout: float = 5.0) -> Frame:
    """The next frame other than a heartbeat."""
    while True:
        frame: Frame = checked_frame(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] != "heartbeat":
            return frame


class ChannelState:
    """A client's view of one channel: applies snapshots and deltas, insists on no gaps.

    Like the client libraries, it takes a snapshot only when one is due: first (a new state
    awaits its snapshot) and right after `subscribed` with `recovered: false`; any other is
    a server bug and fails the test."""

    def __init__(self) -> None:
        self.seq: str | None = None
        self.epoch: str | None = None
        self.value: Any = None
        self.seqs: list[str] = []
        self.awaiting = True

    def apply(self, frame: Frame) -> None:
        if frame["type"] == "subscribed":
            self.awaiting = not frame["recovered"]
        elif frame["type"] == "snapshot":
            assert self.awaiting, f"a snapshot no subscribed asked for: {frame}"
            self.awaiting = False
            self.seq, self.epoch, self.value = frame["seq"], frame["epoch"], frame["data"]
            self.seqs = [frame["seq"]] if frame["seq"] else []
        elif frame["type"] == "delta":
            assert not self.awaiting, f"a delta before the snapshot: {frame}"
            assert frame["prev_seq"] == self.seq, f"gap: {frame['prev_seq']} after {self.seq}"
            self.seq, self.epoch = frame["seq"], frame["epoch"]
            self.value = apply_delta(self.value, frame["data"])
            self.seqs.append(frame["seq"])

    async def follow_until(self, ws: ClientConnection, seq: str, timeout: float = 10.0) -> None:
        """Apply frames until the state reaches `seq`."""
        deadline = time.monotonic() + timeout
        while self.seq != seq:
            self.apply(await next_frame(ws, max(0.01, deadline - time.monotonic())))


async def subscribe(
    ws: ClientConnection, channel: str, resume: dict[str, str] | None = None
) -> tuple[Frame, ChannelState]:
    """Subscribe to one channel; returns the `subscribed` frame and the state after the
    snapshot (not recovered) or as resumed from `resume` (recovered: the caller's own)."""
    op: dict[str, Any] = {"op": "subscribe", "channels": [channel]}
    if resume:
        op["resume"] = {channel: resume}
    await send_op(ws, op)
    subscribed = await next_frame(ws)
    assert subscribed["type"] == "subscribed", subscribed
    state = ChannelState()
    state.apply(subscribed)
    if not subscribed["recovered"]:
        state.apply(await next_frame(ws))
    return subscribed, state


class RawClient:
    """A bare-socket WebSocket client that reads only when told to, with a tiny receive
    buffer, so a test can make it stall and fill the server's buffers."""

    def __init__(self, port: int, path: str = "/v1/stream", rcvbuf: int = 4096) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._sock.settimeout(5)
        self._sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self._sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self._buf = b""
        while b"\r\n\r\n" not in self._buf:
            self._buf += self._sock.recv(4096)
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        assert len(payload) < 126
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask + masked)

    def read_until_close(self, timeout: float = 10.0) -> tuple[list[Frame], int | None]:
        """Read everything until the server's close frame; (text frames, close code)."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parsed = self._parse_one()
            if parsed is None:
                chunk = self._sock.recv(65536)
                if not chunk:
                    return frames, None
                self._buf += chunk
                continue
            opcode, payload = parsed
            if opcode == 0x8:
                return frames, int.from_bytes(payload[:2], "big") if payload else None
            if opcode == 0x1:
                frames.append(checked_frame(payload))
        raise TimeoutError("no close frame before the deadline")

    def _parse_one(self) -> tuple[int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        length, start = buf[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < start + length:
            return None
        self._buf = buf[start + length :]
        return buf[0] & 0x0F, buf[start : start + length]

    def close(self) -> None:
        self._sock.close()
