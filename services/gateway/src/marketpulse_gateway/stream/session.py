"""One WebSocket connection's conversation: client ops in, frames out through its outbox.

The session handles one message at a time (the connection's read loop awaits each), so a
subscribe finishes — snapshot or replay sent, subscription live — before the next op is
looked at. Every message passes the connection's limits first (limits.py); a message that is
refused gets an `error` frame and counts as a strike, and too many strikes close the
connection with 1008. Unknown channels and a Redis outage are answered but not held against
the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from marketpulse_common.keys import Channel
from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.errors import ProtocolError, StoreUnavailable
from marketpulse_gateway.stream.history import ChannelHistory, StreamHistory
from marketpulse_gateway.stream.hub import Hub, Outbox, Subscription
from marketpulse_gateway.stream.limits import ConnectionGuard, StreamLimits
from marketpulse_gateway.stream.protocol import (
    CLOSE_POLICY,
    ErrorFrame,
    Ping,
    Pong,
    Position,
    Subscribe,
    Unsubscribe,
    parse_client_op,
)
from marketpulse_gateway.stream.resume import plan_replay

# A resume replays at most this many updates per channel; further behind, a snapshot is
# both smaller and cheaper to build.
MAX_REPLAY_ENTRIES = 500
# Errors that are no strike: a typo'd or retired channel name, and a Redis outage.
NOT_HELD_AGAINST = frozenset({"unknown_channel", "unavailable"})


class StreamSession:
    def __init__(
        self,
        hub: Hub,
        outbox: Outbox,
        catalog: Catalog,
        history: StreamHistory,
        limits: StreamLimits,
        *,
        ready: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = hub
        self._ready = ready
        self._outbox = outbox
        self._catalog = catalog
        self._history = history
        self._limits = limits
        self._clock = clock
        self._guard = ConnectionGuard(limits.rates, clock())

    async def handle(self, message: str | bytes) -> None:
        """Act on one client message; anything wrong with it is answered with an error frame."""
        try:
            if not self._guard.admit_message(self._clock()):
                raise ProtocolError(
                    "rate_limited", "too many messages; slow down", channels=_subscribing(message)
                )
            op = parse_client_op(message)
            if isinstance(op, Ping):
                self._hub.send(self._outbox, Pong())
            elif isinstance(op, Subscribe):
                await self._subscribe(op)
            elif isinstance(op, Unsubscribe):
                for name in op.channels:
                    self._hub.unsubscribe(self._outbox, name)
        except ProtocolError as e:
            self.reject(e)

    def reject(self, error: ProtocolError) -> None:
        """Answer with an error frame; a client that keeps being refused is closed (1008)."""
        self._send_error(error)
        if error.code in NOT_HELD_AGAINST:
            return
        if not self._guard.strike(self._clock()):
            self._outbox.close(CLOSE_POLICY)

    async def _subscribe(self, op: Subscribe) -> None:
        try:
            await self._subscribe_known(op)
        except ProtocolError as e:
            # Refused as a whole: say which subscribe (a client may have several in flight).
            e.channels = list(op.channels)
            raise

    async def _subscribe_known(self, op: Subscribe) -> None:
        channels = self._resolve(dict.fromkeys(op.channels))
        if not channels:
            return
        if not self._ready():
            # Until the reader knows where every stream stands, an update published now could
            # reach nobody: refuse for now (no strike, no tokens); clients retry `unavailable`.
            raise ProtocolError("unavailable", "the stream is not live yet; retry shortly")
        self._check_limits(channels)
        resume = op.resume or {}
        # Register first, then read: see the join in hub.py.
        subs = [self._hub.subscribe(self._outbox, channel.name) for channel in channels]
        wanted = [(c, p.seq if (p := resume.get(c.name)) else None) for c in channels]
        try:
            histories = await self._history.read(wanted, max_entries=MAX_REPLAY_ENTRIES)
        except StoreUnavailable as e:
            for channel in channels:
                self._hub.unsubscribe(self._outbox, channel.name)
            self._guard.refund_subscribe(len(channels))
            raise ProtocolError("unavailable", str(e)) from e
        # The replays of one subscribe share half the queue, leaving the rest for live updates
        # arriving meanwhile: past it, a channel takes a snapshot (one value) instead.
        budget = self._limits.queue_bytes // 2
        for sub, history in zip(subs, histories, strict=True):
            budget -= self._start(sub, history, resume.get(sub.channel), budget)

    def _check_limits(self, channels: list[Channel]) -> None:
        held = self._outbox.subscriptions
        total = len(held) + sum(channel.name not in held for channel in channels)
        if total > self._limits.max_channels:
            raise ProtocolError(
                "too_many_channels",
                f"at most {self._limits.max_channels} channels per connection; "
                "unsubscribe some first",
            )
        if not self._guard.admit_subscribe(len(channels), self._clock()):
            raise ProtocolError("rate_limited", "subscribing too fast; retry in a few seconds")

    def _start(
        self, sub: Subscription, history: ChannelHistory, position: Position | None, budget: int
    ) -> int:
        """Resume the channel within `budget` bytes of replay, or send its snapshot; returns
        the replay's size (0 for a snapshot)."""
        if position is not None and history.entries is not None and budget > 0:
            replay = plan_replay(
                sub.channel,
                position,
                history.entries,
                max_entries=MAX_REPLAY_ENTRIES,
                max_bytes=budget,
            )
            if replay is not None:
                self._hub.resume(sub, replay)
                return sum(map(len, replay.frames))
        self._hub.start(sub, history.snapshot, rejected=history.rejected)
        return 0

    def _resolve(self, names: Iterable[str]) -> list[Channel]:
        channels = []
        for name in names:
            try:
                channels.append(self._catalog.resolve(name))
            except ProtocolError as e:
                self.reject(e)
        return channels

    def _send_error(self, error: ProtocolError) -> None:
        frame = ErrorFrame(
            code=error.code, message=error.message, channel=error.channel, channels=error.channels
        )
        self._hub.send(self._outbox, frame)


def _subscribing(message: str | bytes) -> list[str] | None:
    """The channels `message` subscribes to, if it is a subscribe (for a refusal's frame)."""
    try:
        op = parse_client_op(message)
    except ProtocolError:
        return None
    return list(op.channels) if isinstance(op, Subscribe) else None
