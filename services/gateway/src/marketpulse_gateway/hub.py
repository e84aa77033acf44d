"""Fan-out of channel events to WebSocket clients: each event encoded once, queued per client.

The hub is synchronous and does no I/O: the stream reader calls `publish` for each entry it
reads, sessions call `subscribe`/`start`/`unsubscribe`, and each client's writer task drains
its `Outbox`. Because asyncio runs one callback at a time, every method here is atomic with
respect to the others, which is what makes the join below exact.

Joining a channel without losing or repeating an update:
1. `subscribe` registers a pending subscription; events published from now on are buffered.
2. The session reads the channel's snapshot from Redis (seq S).
3. `start` queues `subscribed` and `snapshot`, then the buffered events with seq > S.
An event published before step 1 has seq ≤ S (the publisher writes the stream entry and the
snapshot atomically), so the snapshot covers it; one published after step 2 reaches the
buffer or the live path. Each subscription also keeps the highest seq it delivered and drops
anything not above it, so a reader that lags or re-reads after a reconnect cannot repeat one.

A client whose queue is full is closed with 4008 ("slow") at once: the hub never waits for a
client, so one stalled reader cannot delay the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from marketpulse_common.publisher import Snapshot
from marketpulse_gateway.delta import changed_fields
from marketpulse_gateway.protocol import (
    Delta,
    Heartbeat,
    SeqKey,
    SnapshotFrame,
    Subscribed,
    encode_frame,
    seq_key,
)

SLOW_CLOSE_CODE = 4008
GOING_AWAY_CLOSE_CODE = 1001
# Events buffered while one subscription's snapshot is read (a single Redis round trip);
# a channel producing this many in that time means the client cannot keep up either.
MAX_PENDING_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One entry of a channel stream, as the publisher wrote it (fields s, ts, d, prev, epoch)."""

    channel: str
    seq: str
    key: SeqKey
    prev_seq: str | None
    epoch: str
    ts: float
    data: str

    @classmethod
    def from_entry(cls, channel: str, entry_id: str, fields: Mapping[str, str]) -> ChannelEvent:
        """Raises ValueError (or KeyError) for an entry that is not the publisher's."""
        return cls(
            channel=channel,
            seq=entry_id,
            key=seq_key(entry_id),
            prev_seq=fields.get("prev") or None,
            epoch=fields["epoch"],
            ts=float(fields["ts"]),
            data=fields["d"],
        )


class Outbox:
    """One client's bounded queue of encoded frames, drained by that client's writer task."""

    __slots__ = ("_queue", "close_code", "subscriptions")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("an outbox needs room for at least one frame")
        # None is the close marker: the writer closes the socket with `close_code`.
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)
        self.close_code: int | None = None
        self.subscriptions: dict[str, Subscription] = {}

    def offer(self, frame: str) -> None:
        if self.close_code is not None:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(SLOW_CLOSE_CODE)

    def close(self, code: int) -> None:
        """Drop the backlog and ask the writer to close the connection with `code`."""
        if self.close_code is not None:
            return
        self.close_code = code
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next_frame(self) -> str | None:
        """The next frame to send, or None when the connection must close (see close_code)."""
        return await self._queue.get()

    def backlog(self) -> int:
        return self._queue.qsize()


class Subscription:
    """One client on one channel: pending (buffering) until `start`, then live."""

    __slots__ = ("buffer", "channel", "floor", "outbox")

    def __init__(self, outbox: Outbox, channel: str) -> None:
        self.outbox = outbox
        self.channel = channel
        self.buffer: list[tuple[SeqKey, str]] | None = []
        self.floor: SeqKey = (0, 0)

    def offer(self, key: SeqKey, frame: str) -> None:
        if self.buffer is not None:
            self.buffer.append((key, frame))
            if len(self.buffer) > MAX_PENDING_EVENTS:
                self.outbox.close(SLOW_CLOSE_CODE)
        elif key > self.floor:
            self.floor = key
            self.outbox.offer(frame)

    def go_live(self, floor: SeqKey) -> None:
        buffered, self.buffer = self.buffer or [], None
        self.floor = floor
        for key, frame in buffered:
            self.offer(key, frame)


@dataclass(frozen=True, slots=True)
class _Latest:
    seq: str
    epoch: str
    value: Any


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, dict[Outbox, Subscription]] = {}
        self._latest: dict[str, _Latest] = {}
        self._outboxes: set[Outbox] = set()

    def connect(self, maxsize: int) -> Outbox:
        outbox = Outbox(maxsize)
        self._outboxes.add(outbox)
        return outbox

    def disconnect(self, outbox: Outbox) -> None:
        for channel in list(outbox.subscriptions):
            self.unsubscribe(outbox, channel)
        self._outboxes.discard(outbox)

    def subscribe(self, outbox: Outbox, channel: str) -> Subscription:
        """Register a pending subscription (replacing any earlier one: a fresh snapshot)."""
        self.unsubscribe(outbox, channel)
        sub = Subscription(outbox, channel)
        outbox.subscriptions[channel] = sub
        self._subscribers.setdefault(channel, {})[outbox] = sub
        return sub

    def start(self, sub: Subscription, snapshot: Snapshot | None) -> None:
        """Queue `subscribed` + `snapshot`, then the events buffered since `subscribe`."""
        if sub.outbox.subscriptions.get(sub.channel) is not sub:
            return  # unsubscribed or superseded while its snapshot was being read
        epoch = snapshot.epoch if snapshot else None
        sub.outbox.offer(
            encode_frame(Subscribed(channel=sub.channel, epoch=epoch, recovered=False))
        )
        sub.outbox.offer(encode_frame(_snapshot_frame(sub.channel, snapshot)))
        sub.go_live(seq_key(snapshot.seq) if snapshot else (0, 0))

    def unsubscribe(self, outbox: Outbox, channel: str) -> None:
        if outbox.subscriptions.pop(channel, None) is None:
            return
        subscribers = self._subscribers.get(channel)
        if subscribers is not None:
            subscribers.pop(outbox, None)
            if not subscribers:
                del self._subscribers[channel]

    def prime(self, event: ChannelEvent) -> None:
        """Remember a channel's latest value without sending it (the reader's starting point)."""
        self._latest[event.channel] = _Latest(event.seq, event.epoch, orjson.loads(event.data))

    def publish(self, event: ChannelEvent) -> None:
        """Encode the event's delta once and offer the same text to every subscriber."""
        value = orjson.loads(event.data)
        latest = self._latest.get(event.channel)
        # Diff only against the value this entry follows; otherwise send it whole.
        follows = latest is not None and (latest.seq, latest.epoch) == (event.prev_seq, event.epoch)
        before = latest.value if follows and latest is not None else None
        self._latest[event.channel] = _Latest(event.seq, event.epoch, value)
        subscribers = self._subscribers.get(event.channel)
        if not subscribers:
            return
        frame = encode_frame(
            Delta(
                channel=event.channel,
                epoch=event.epoch,
                seq=event.seq,
                prev_seq=event.prev_seq,
                data=changed_fields(before, value),
            )
        )
        for sub in list(subscribers.values()):
            sub.offer(event.key, frame)

    def beat(self, ts: float) -> None:
        frame = encode_frame(Heartbeat(ts=ts))
        for outbox in list(self._outboxes):
            outbox.offer(frame)

    def close_all(self, code: int = GOING_AWAY_CLOSE_CODE) -> None:
        for outbox in list(self._outboxes):
            outbox.close(code)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    @property
    def client_count(self) -> int:
        return len(self._outboxes)


def _snapshot_frame(channel: str, snapshot: Snapshot | None) -> SnapshotFrame:
    if snapshot is None:
        return SnapshotFrame(channel=channel, epoch=None, seq=None, data=None)
    return SnapshotFrame(
        channel=channel,
        epoch=snapshot.epoch,
        seq=snapshot.seq,
        data=orjson.loads(snapshot.data),
    )


async def send_heartbeats(hub: Hub, interval_s: float, clock: Callable[[], float]) -> None:
    """Beat every `interval_s` until cancelled (by the gateway's lifespan)."""
    while True:
        await asyncio.sleep(interval_s)
        hub.beat(clock())
