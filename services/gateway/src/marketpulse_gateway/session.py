"""One WebSocket connection's conversation: client ops in, frames out through its outbox.

The session handles one message at a time (the connection's read loop awaits each), so a
subscribe finishes — snapshot queued, subscription live — before the next op is looked at.
Resume positions are accepted but not yet honoured: every subscribe answers
`recovered: false` with a fresh snapshot, which DESIGN §7 allows when history cannot be used.
"""

from __future__ import annotations

from collections.abc import Iterable

from marketpulse_common.keys import Channel
from marketpulse_gateway.cache import RedisCache
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.errors import ProtocolError, StoreUnavailable
from marketpulse_gateway.hub import Hub, Outbox
from marketpulse_gateway.protocol import (
    ErrorFrame,
    Ping,
    Pong,
    ServerFrame,
    Subscribe,
    Unsubscribe,
    encode_frame,
    parse_client_op,
)

_PONG = encode_frame(Pong())


class StreamSession:
    def __init__(self, hub: Hub, outbox: Outbox, catalog: Catalog, cache: RedisCache) -> None:
        self._hub = hub
        self._outbox = outbox
        self._catalog = catalog
        self._cache = cache

    async def handle(self, message: str | bytes) -> None:
        """Act on one client message; anything wrong with it is answered with an error frame."""
        try:
            op = parse_client_op(message)
            if isinstance(op, Ping):
                self._outbox.offer(_PONG)
            elif isinstance(op, Subscribe):
                await self._subscribe(op)
            elif isinstance(op, Unsubscribe):
                for name in op.channels:
                    self._hub.unsubscribe(self._outbox, name)
        except ProtocolError as e:
            self.send_error(e)

    def send_error(self, error: ProtocolError) -> None:
        self._send(ErrorFrame(code=error.code, message=error.message, channel=error.channel))

    async def _subscribe(self, op: Subscribe) -> None:
        channels = self._resolve(dict.fromkeys(op.channels))
        if not channels:
            return
        # Register first, then read: see the join in hub.py.
        subs = [self._hub.subscribe(self._outbox, channel.name) for channel in channels]
        try:
            snapshots = await self._cache.snapshots(channels)
        except StoreUnavailable as e:
            for channel in channels:
                self._hub.unsubscribe(self._outbox, channel.name)
            raise ProtocolError("unavailable", str(e)) from e
        for sub, snapshot in zip(subs, snapshots, strict=True):
            self._hub.start(sub, snapshot)

    def _resolve(self, names: Iterable[str]) -> list[Channel]:
        channels = []
        for name in names:
            try:
                channels.append(self._catalog.resolve(name))
            except ProtocolError as e:
                self.send_error(e)
        return channels

    def _send(self, frame: ServerFrame) -> None:
        self._outbox.offer(encode_frame(frame))
