"""Fan-out of channel events to WebSocket clients: each event encoded once, written per client.

The hub is synchronous and does no I/O of its own: the stream reader calls `publish` for each
entry it reads, sessions call `subscribe`/`start`/`resume`/`unsubscribe`, and frames go to
each client's `ClientSocket`, whose `write` never blocks (a direct socket appends to the
connection's transport buffer, the portable one to a queue its writer task drains). Because
asyncio runs one callback at a time, every method here is atomic with respect to the others,
which is what makes the join below exact.

Joining a channel without losing or repeating an update:
1. `subscribe` registers a pending subscription; events published from now on are buffered.
2. The session reads the channel's snapshot (seq S) or its history from the client's resume
   position up to the newest entry (S) from Redis.
3. `start` sends `subscribed` and `snapshot` (`resume`: `subscribed` and the missed deltas),
   then the buffered events with seq > S.
An event published before step 1 has seq ≤ S (the publisher writes the stream entry and the
snapshot atomically, and the history read comes after step 1), so step 2 covers it; one
published after step 1 reaches the buffer or the live path. Each subscription also keeps the
highest seq it delivered and drops anything not above it, so a reader that lags or re-reads
after a reconnect cannot repeat one.

An entry that, in the same epoch, does not follow the last one the clients were sent gets
every live subscriber `subscribed` (recovered: false) and a fresh snapshot of that entry,
never a delta. Either history went back (a Redis Cluster failover promoted a replica that
had not yet received the last few entries, or a standalone Redis restarted from an AOF a
second behind), and a delta would chain to a seq that no longer exists; or the entry follows
one this process never passed on (the reader skipped it as malformed, or it was trimmed
before the reader got to it), whose value a client that joined from the Redis snapshot may
hold: a whole value sent as a delta chaining to it would be merged over it and leave behind
any field the new value dropped. The same holds for the first entry a process reads when it
names a `prev`. (A new epoch is a plain delta: every client re-snapshots on an epoch change.)

A client whose unsent bytes would exceed its limit is closed with 4008 ("slow") at once: the
hub never waits for a client, so one stalled reader cannot delay the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from marketpulse_common.publisher import Snapshot
from marketpulse_gateway.channel_event import ChannelEvent, SeqKey, seq_key
from marketpulse_gateway.stream.delta import changed_fields
from marketpulse_gateway.stream.protocol import (
    CLOSE_SERVICE_RESTART,
    CLOSE_SLOW,
    Delta,
    Heartbeat,
    ServerFrame,
    SnapshotFrame,
    Subscribed,
    encode_frame,
)
from marketpulse_gateway.stream.resume import Replay
from marketpulse_gateway.stream.wire import Outgoing, outgoing

# Events buffered while one subscription's snapshot is read (a single Redis round trip);
# a channel producing this many in that time means the client cannot keep up either.
MAX_PENDING_EVENTS = 1000


class ClientSocket(Protocol):
    """One client connection as the hub sees it; no method ever waits."""

    def write(self, frame: Outgoing) -> int:
        """Send or buffer `frame`; returns the bytes still waiting to go out (not yet taken
        by the kernel). One call per delivery: this is the fan-out's inner loop."""
        ...

    def close(self, code: int) -> None:
        """Stop sending and close with `code`, dropping what has not been sent if it must."""
        ...


class HubObserver(Protocol):
    """What the hub reports (to the metrics): frames written, clients it closed, and how long
    after its publish an event was written to its subscribers."""

    def sent(self, frames: int) -> None: ...

    def closed(self, code: int) -> None: ...

    def delivered(self, channel: str, lag_s: float) -> None: ...


class _Unobserved:
    def sent(self, frames: int) -> None:
        pass

    def closed(self, code: int) -> None:
        pass

    def delivered(self, channel: str, lag_s: float) -> None:
        pass


_UNOBSERVED = _Unobserved()


class Outbox:
    """A client's sending side: its socket, the byte limit it is held to, its subscriptions."""

    __slots__ = ("_limit", "_observer", "_socket", "close_code", "subscriptions")

    def __init__(
        self, socket: ClientSocket, limit_bytes: int, observer: HubObserver = _UNOBSERVED
    ) -> None:
        if limit_bytes < 1:
            raise ValueError("an outbox needs room for at least one byte")
        self._socket = socket
        self._limit = limit_bytes
        self._observer = observer
        self.close_code: int | None = None
        self.subscriptions: dict[str, Subscription] = {}

    def offer(self, frame: Outgoing) -> bool:
        """Write `frame` unless closed; a client left with more than its limit of unsent
        bytes is closed with 4008 (so its backlog exceeds the limit by one frame at most)."""
        if self.close_code is not None:
            return False
        if self._socket.write(frame) > self._limit:
            self.close(CLOSE_SLOW)
        return True

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self._socket.close(code)
            self._observer.closed(code)


class Subscription:
    """One client on one channel: pending (buffering) until it starts, then live."""

    __slots__ = ("buffer", "channel", "floor", "outbox")

    def __init__(self, outbox: Outbox, channel: str) -> None:
        self.outbox = outbox
        self.channel = channel
        # While joining: each entry's frames, kept together (a resync is two frames).
        self.buffer: list[tuple[SeqKey, tuple[Outgoing, ...]]] | None = []
        self.floor: SeqKey = (0, 0)

    def offer(self, key: SeqKey, frame: Outgoing) -> bool:
        """Send the frame of the entry at `key` unless the client has it (buffer it while
        joining); the fan-out's inner loop, so one frame and no allocation."""
        if self.buffer is not None:
            return self._hold(key, (frame,))
        if key <= self.floor:
            return False
        self.floor = key
        return self.outbox.offer(frame)

    def offer_all(self, key: SeqKey, frames: tuple[Outgoing, ...]) -> int:
        """`offer` for an entry sent as several frames, which go out together or not at all;
        returns the frames sent."""
        if self.buffer is not None:
            return self._hold(key, frames)
        if key <= self.floor:
            return 0
        self.floor = key
        return sum(self.outbox.offer(frame) for frame in frames)

    def go_live(self, floor: SeqKey) -> int:
        buffered, self.buffer = self.buffer or [], None
        self.floor = floor
        return sum(self.offer_all(key, frames) for key, frames in buffered)

    def _hold(self, key: SeqKey, frames: tuple[Outgoing, ...]) -> bool:
        assert self.buffer is not None
        self.buffer.append((key, frames))
        if len(self.buffer) > MAX_PENDING_EVENTS:
            self.outbox.close(CLOSE_SLOW)
        return False


@dataclass(frozen=True, slots=True)
class _Latest:
    seq: str
    epoch: str
    value: Any


class Hub:
    def __init__(self, observer: HubObserver | None = None) -> None:
        """`observer.sent(n)` is called once per fan-out, not once per client."""
        self._subscribers: dict[str, dict[Outbox, Subscription]] = {}
        self._latest: dict[str, _Latest] = {}
        self._outboxes: set[Outbox] = set()
        self.observer = observer or _UNOBSERVED
        self._on_sent = self.observer.sent
        self._on_delivered = self.observer.delivered

    def connect(self, socket: ClientSocket, limit_bytes: int) -> Outbox:
        outbox = Outbox(socket, limit_bytes, self.observer)
        self._outboxes.add(outbox)
        return outbox

    def disconnect(self, outbox: Outbox) -> None:
        for channel in list(outbox.subscriptions):
            self.unsubscribe(outbox, channel)
        self._outboxes.discard(outbox)

    def send(self, outbox: Outbox, frame: ServerFrame) -> None:
        """One frame for one client (pong, error)."""
        self._on_sent(outbox.offer(outgoing(encode_frame(frame))))

    def subscribe(self, outbox: Outbox, channel: str) -> Subscription:
        """Register a pending subscription (replacing any earlier one: a fresh start)."""
        self.unsubscribe(outbox, channel)
        sub = Subscription(outbox, channel)
        outbox.subscriptions[channel] = sub
        self._subscribers.setdefault(channel, {})[outbox] = sub
        return sub

    def start(
        self, sub: Subscription, snapshot: Snapshot | None, *, rejected: bool = False
    ) -> None:
        """Send `subscribed` + `snapshot`, then the events buffered since `subscribe`.

        `rejected`: the stored snapshot failed its schema (the reader skipped its entry too);
        the client gets the last value this process passed on instead, or none."""
        if not self._current(sub):
            return
        frame = self._last_good(sub.channel) if rejected else _snapshot_frame(sub.channel, snapshot)
        sent: int = sub.outbox.offer(
            outgoing(
                encode_frame(Subscribed(channel=sub.channel, epoch=frame.epoch, recovered=False))
            )
        )
        sent += sub.outbox.offer(outgoing(encode_frame(frame)))
        sent += sub.go_live(seq_key(frame.seq) if frame.seq else (0, 0))
        self._on_sent(sent)

    def resume(self, sub: Subscription, replay: Replay) -> None:
        """Send `subscribed` (recovered) + the missed deltas, then the buffered events."""
        if not self._current(sub):
            return
        subscribed = Subscribed(channel=sub.channel, epoch=replay.epoch, recovered=True)
        sent: int = sub.outbox.offer(outgoing(encode_frame(subscribed)))
        for text in replay.frames:
            sent += sub.outbox.offer(outgoing(text))
        sent += sub.go_live(seq_key(replay.last_seq))
        self._on_sent(sent)

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
        """Encode the event's delta once and offer the same frame to every subscriber."""
        value = orjson.loads(event.data)
        latest = self._latest.get(event.channel)
        # Diff only against the value this entry follows; otherwise send it whole.
        follows = latest is not None and (latest.seq, latest.epoch) == (event.prev_seq, event.epoch)
        resync = False
        if not follows and latest is not None and latest.epoch == event.epoch:
            if event.key <= seq_key(latest.seq):
                return  # a lagging or re-reading reader: every subscriber has it already
            resync = True  # history went back, or this entry follows one never read here
        elif latest is None and event.prev_seq is not None:
            resync = True  # a value this process never saw may be held by its clients
        before = latest.value if follows and latest is not None else None
        self._latest[event.channel] = _Latest(event.seq, event.epoch, value)
        subscribers = self._subscribers.get(event.channel)
        if not subscribers:
            return
        if resync:
            self._resync(event, value, tuple(subscribers.values()))
            return
        delta = Delta(
            channel=event.channel,
            epoch=event.epoch,
            seq=event.seq,
            prev_seq=event.prev_seq,
            data=changed_fields(before, value),
        )
        frame, key, sent = outgoing(encode_frame(delta)), event.key, 0
        # A copy: closing a slow client must not disturb the iteration, now or later.
        for sub in tuple(subscribers.values()):
            if sub.offer(key, frame):
                sent += 1
        self._on_sent(sent)
        if sent:
            self._on_delivered(event.channel, time.time() - event.ts)

    def _resync(
        self, event: ChannelEvent, value: Any, subscribers: tuple[Subscription, ...]
    ) -> None:
        """History went back: subscribers restart from this entry as `subscribed` (recovered:
        false) and a snapshot, the only snapshot a client takes unasked. One still joining
        holds both until its own read decides, like any event; one that joined from a
        snapshot at least as new as this entry skips it."""
        frames = (
            outgoing(
                encode_frame(Subscribed(channel=event.channel, epoch=event.epoch, recovered=False))
            ),
            outgoing(
                encode_frame(
                    SnapshotFrame(
                        channel=event.channel, epoch=event.epoch, seq=event.seq, data=value
                    )
                )
            ),
        )
        key = event.key
        self._on_sent(sum(sub.offer_all(key, frames) for sub in subscribers))

    def _last_good(self, channel: str) -> SnapshotFrame:
        latest = self._latest.get(channel)
        if latest is None:
            return SnapshotFrame(channel=channel, epoch=None, seq=None, data=None)
        return SnapshotFrame(channel=channel, epoch=latest.epoch, seq=latest.seq, data=latest.value)

    def beat(self, ts: float) -> None:
        frame = outgoing(encode_frame(Heartbeat(ts=ts)))
        self._on_sent(sum(outbox.offer(frame) for outbox in tuple(self._outboxes)))

    def close_all(self, code: int = CLOSE_SERVICE_RESTART) -> None:
        for outbox in tuple(self._outboxes):
            outbox.close(code)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    @property
    def client_count(self) -> int:
        return len(self._outboxes)

    @staticmethod
    def _current(sub: Subscription) -> bool:
        # False when unsubscribed or superseded while its snapshot or history was being read.
        return sub.outbox.subscriptions.get(sub.channel) is sub


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
