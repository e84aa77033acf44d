"""The fan-out hub: exact joins, resumes, one encoding per event, slow clients cut off alone."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.publisher import Snapshot
from marketpulse_gateway.channel_event import ChannelEvent
from marketpulse_gateway.stream.hub import MAX_PENDING_EVENTS, Hub
from marketpulse_gateway.stream.protocol import (
    CLOSE_SERVICE_RESTART,
    CLOSE_SLOW,
    Delta,
    Position,
    ServerFrame,
    SnapshotFrame,
    Subscribed,
    decode_frame,
)
from marketpulse_gateway.stream.resume import plan_replay
from marketpulse_gateway.stream.wire import Outgoing

CHANNEL = "ticker:bitcoin"
ROOMY = 1 << 20


class FakeSocket:
    """A client connection in memory; `stalled` ones keep everything written in their buffer."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.frames: list[Outgoing] = []
        self.stalled = stalled
        self.pending = 0
        self.closed_with: list[int] = []

    def write(self, frame: Outgoing) -> int:
        self.frames.append(frame)
        if self.stalled:
            self.pending += frame.size
        return self.pending

    def close(self, code: int) -> None:
        self.closed_with.append(code)

    def decoded(self) -> list[ServerFrame]:
        return [decode_frame(frame.text) for frame in self.frames]

    def types_and_seqs(self) -> list[tuple[str, str | None]]:
        return [(f.type, getattr(f, "seq", None)) for f in self.decoded()]


def fields(prev: str, value: dict[str, object], epoch: str = "e1") -> dict[str, str]:
    return {"s": "ticker/1", "ts": "1.0", "d": orjson.dumps(value).decode(), "prev": prev,
            "epoch": epoch}  # fmt: skip


def event(seq: str, prev: str, value: dict[str, object], epoch: str = "e1") -> ChannelEvent:
    return ChannelEvent.from_entry(CHANNEL, seq, fields(prev, value, epoch))


def snapshot(seq: str, value: dict[str, object], epoch: str = "e1") -> Snapshot:
    return Snapshot("ticker/1", 1.0, orjson.dumps(value).decode(), seq, epoch)


def test_join_drops_what_the_snapshot_covers() -> None:
    """Events buffered while the snapshot is read are sent only if newer than the snapshot."""
    hub, socket = Hub(), FakeSocket()
    sub = hub.subscribe(hub.connect(socket, ROOMY), CHANNEL)
    hub.publish(event("1-0", "", {"p": 1}))
    hub.publish(event("2-0", "1-0", {"p": 2}))
    hub.start(sub, snapshot("1-0", {"p": 1}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    assert socket.types_and_seqs() == [
        ("subscribed", None),
        ("snapshot", "1-0"),
        ("delta", "2-0"),
        ("delta", "3-0"),
    ]


def test_lagging_reader_cannot_repeat_an_update() -> None:
    """Entries the snapshot already covers, delivered late by the reader, are dropped."""
    hub, socket = Hub(), FakeSocket()
    hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), snapshot("3-0", {"p": 3}))
    for seq, prev in [("2-0", "1-0"), ("3-0", "2-0"), ("4-0", "3-0"), ("3-0", "2-0")]:
        hub.publish(event(seq, prev, {"p": int(seq[0])}))
    assert [s for _, s in socket.types_and_seqs()] == [None, "3-0", "4-0"]


def test_no_snapshot_yet() -> None:
    """Before any value the snapshot frame is all null and the first delta is the whole value."""
    hub, socket = Hub(), FakeSocket()
    hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), None)
    hub.publish(event("1-0", "", {"p": 1, "q": 2}))
    frames = socket.decoded()
    assert frames[1] == SnapshotFrame(channel=CHANNEL, epoch=None, seq=None, data=None)
    assert isinstance(frames[2], Delta)
    assert frames[2].data == {"p": 1, "q": 2}
    assert frames[2].prev_seq is None


def test_each_event_is_encoded_once() -> None:
    """Every subscriber is handed the very same frame object: text and wire bytes built once."""
    hub = Hub()
    sockets = [FakeSocket() for _ in range(3)]
    for socket in sockets:
        hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), None)
    hub.publish(event("1-0", "", {"p": 1}))
    last = [socket.frames[-1] for socket in sockets]
    assert last[0] is last[1] is last[2]
    assert last[0].wire.endswith(last[0].text.encode())


def test_deltas_carry_changed_fields_only_when_they_follow() -> None:
    """A delta is a diff against the value it follows; in a new epoch it is whole."""
    hub, socket = Hub(), FakeSocket()
    hub.prime(event("1-0", "", {"p": 1, "v": 9}))
    hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), snapshot("1-0", {"p": 1, "v": 9}))
    hub.publish(event("2-0", "1-0", {"p": 2, "v": 9}))
    hub.publish(event("3-0", "2-0", {"p": 3, "v": 9}))
    hub.publish(event("5-0", "", {"p": 5, "v": 9}, epoch="e2"))
    deltas = [f for f in socket.decoded() if isinstance(f, Delta)]
    assert [d.data for d in deltas] == [{"p": 2}, {"p": 3}, {"p": 5, "v": 9}]


def held(socket: FakeSocket) -> dict[str, object] | None:
    """The value a client holds after the frames it got, by the clients' rules: a snapshot
    replaces it only right after `subscribed` (recovered: false) asked for one, a delta that
    follows the held seq is merged (null removes a field)."""
    value: dict[str, object] | None = None
    seq: str | None = None
    awaiting = False
    for frame in socket.decoded():
        if isinstance(frame, Subscribed):
            awaiting = not frame.recovered
            continue
        if isinstance(frame, SnapshotFrame) and awaiting:
            value, seq = frame.data, frame.seq
        elif isinstance(frame, Delta):
            assert frame.prev_seq == seq, "the client would see a gap"
            merged = {**(value or {}), **frame.data}
            value, seq = {k: v for k, v in merged.items() if v is not None}, frame.seq
        awaiting = False
    return value


def test_an_entry_following_one_never_read_here_is_a_fresh_snapshot() -> None:
    """The reader skipped 2-0 (its payload failed the schema), but a client that joined
    from the Redis snapshot holds it: 3-0, which follows 2-0 and drops its field `x`, must
    not reach it as a whole value to merge (x would stay), nor as a gap for the others."""
    hub, joined, earlier = Hub(), FakeSocket(), FakeSocket()
    hub.prime(event("1-0", "", {"p": 1}))
    hub.start(hub.subscribe(hub.connect(earlier, ROOMY), CHANNEL), snapshot("1-0", {"p": 1}))
    hub.start(hub.subscribe(hub.connect(joined, ROOMY), CHANNEL), snapshot("2-0", {"p": 2, "x": 2}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    hub.publish(event("4-0", "3-0", {"p": 4}))
    for socket in (joined, earlier):
        assert held(socket) == {"p": 4}
        assert socket.types_and_seqs()[-3:] == [
            ("subscribed", None),
            ("snapshot", "3-0"),
            ("delta", "4-0"),
        ]


def test_a_first_entry_that_names_a_prev_is_a_fresh_snapshot() -> None:
    """This process never saw the entry the first one it reads follows (its stream was empty
    at start, the Redis snapshot was not): its subscribers restart from a snapshot."""
    hub, socket = Hub(), FakeSocket()
    hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), snapshot("2-0", {"p": 2, "x": 2}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    assert held(socket) == {"p": 3}
    assert socket.types_and_seqs()[-2:] == [("subscribed", None), ("snapshot", "3-0")]


def test_a_resync_while_joining_reaches_the_client_as_a_snapshot_it_takes() -> None:
    """History went back (or skipped) while a client's snapshot was being read, and its read
    came back older than the resync entry: it gets `subscribed` and the entry's snapshot after
    its own, since a client takes no snapshot unasked; a bare snapshot would be dropped and
    it would hold the old value until the next delta showed a gap."""
    hub, socket = Hub(), FakeSocket()
    hub.prime(event("1-0", "", {"p": 1}))
    sub = hub.subscribe(hub.connect(socket, ROOMY), CHANNEL)
    hub.publish(event("3-0", "2-0", {"p": 3}))  # follows 2-0, which this process never read
    hub.start(sub, snapshot("1-0", {"p": 1, "x": 1}))
    assert held(socket) == {"p": 3}
    assert socket.types_and_seqs() == [
        ("subscribed", None),
        ("snapshot", "1-0"),
        ("subscribed", None),
        ("snapshot", "3-0"),
    ]
    hub.publish(event("4-0", "3-0", {"p": 4}))
    assert held(socket) == {"p": 4}


def test_a_resync_older_than_a_joining_clients_snapshot_is_skipped_whole() -> None:
    """A joining client whose own read is already past the resync entry gets neither of its
    frames: a lone `subscribed` would leave it awaiting a snapshot that never comes."""
    hub, socket = Hub(), FakeSocket()
    hub.prime(event("1-0", "", {"p": 1}))
    sub = hub.subscribe(hub.connect(socket, ROOMY), CHANNEL)
    hub.publish(event("3-0", "2-0", {"p": 3}))
    hub.start(sub, snapshot("3-0", {"p": 3}))
    assert socket.types_and_seqs() == [("subscribed", None), ("snapshot", "3-0")]


def test_slow_client_is_closed_without_touching_others() -> None:
    """A client whose unsent bytes would pass its limit is closed with 4008, once; the others
    get every event."""
    hub = Hub()
    stalled, healthy = FakeSocket(stalled=True), FakeSocket()
    slow_box = hub.connect(stalled, 600)
    for box in (slow_box, hub.connect(healthy, 600)):
        hub.start(hub.subscribe(box, CHANNEL), None)
    for n in range(1, 21):
        hub.publish(event(f"{n}-0", f"{n - 1}-0" if n > 1 else "", {"p": n}))
    assert stalled.closed_with == [CLOSE_SLOW]
    assert slow_box.close_code == CLOSE_SLOW
    assert stalled.pending <= 600 + max(f.size for f in stalled.frames)  # one frame over at most
    assert len(stalled.frames) < 20
    assert [s for t, s in healthy.types_and_seqs() if t == "delta"] == [
        f"{n}-0" for n in range(1, 21)
    ]
    assert not healthy.closed_with


def test_a_closed_client_gets_nothing_more() -> None:
    """After a close nothing is written, not even heartbeats, and the close is not repeated."""
    hub, socket = Hub(), FakeSocket()
    outbox = hub.connect(socket, ROOMY)
    outbox.close(CLOSE_SERVICE_RESTART)
    outbox.close(CLOSE_SLOW)
    hub.beat(1.0)
    assert socket.frames == []
    assert socket.closed_with == [CLOSE_SERVICE_RESTART]


def test_a_flood_while_joining_is_slow() -> None:
    """More events than a join may buffer while its snapshot is read closes the client (4008)."""
    hub, socket = Hub(), FakeSocket()
    hub.subscribe(hub.connect(socket, ROOMY), CHANNEL)
    for n in range(1, MAX_PENDING_EVENTS + 2):
        hub.publish(event(f"{n}-0", f"{n - 1}-0", {"p": n}))
    assert socket.closed_with == [CLOSE_SLOW]


def test_unsubscribe_and_disconnect_stop_delivery() -> None:
    """After unsubscribe (or disconnect) a client gets no more deltas for the channel."""
    hub = Hub()
    a, b = FakeSocket(), FakeSocket()
    box_a, box_b = hub.connect(a, ROOMY), hub.connect(b, ROOMY)
    for box in (box_a, box_b):
        hub.start(hub.subscribe(box, CHANNEL), None)
    hub.unsubscribe(box_a, CHANNEL)
    hub.disconnect(box_b)
    hub.publish(event("1-0", "", {"p": 1}))
    assert len(a.frames) == len(b.frames) == 2
    assert hub.subscriber_count(CHANNEL) == 0
    assert hub.client_count == 1


def test_start_after_unsubscribe_sends_nothing() -> None:
    """A subscription cancelled while its snapshot was being read never goes live."""
    hub, socket = Hub(), FakeSocket()
    outbox = hub.connect(socket, ROOMY)
    sub = hub.subscribe(outbox, CHANNEL)
    hub.unsubscribe(outbox, CHANNEL)
    hub.start(sub, snapshot("1-0", {"p": 1}))
    assert socket.frames == []


def test_resubscribe_gives_a_fresh_snapshot() -> None:
    """Subscribing again (e.g. after a gap) replaces the subscription with a new snapshot."""
    hub, socket = Hub(), FakeSocket()
    outbox = hub.connect(socket, ROOMY)
    hub.prime(event("1-0", "", {"p": 1}))
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("1-0", {"p": 1}))
    hub.publish(event("2-0", "1-0", {"p": 2}))
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("2-0", {"p": 2}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    assert socket.types_and_seqs() == [
        ("subscribed", None),
        ("snapshot", "1-0"),
        ("delta", "2-0"),
        ("subscribed", None),
        ("snapshot", "2-0"),
        ("delta", "3-0"),
    ]
    assert hub.subscriber_count(CHANNEL) == 1


def test_resume_replays_then_joins_live_without_gap_or_repeat() -> None:
    """A resume sends recovered + the missed deltas, then only buffered events after them."""
    hub, socket = Hub(), FakeSocket()
    sub = hub.subscribe(hub.connect(socket, ROOMY), CHANNEL)
    history = [("1-0", fields("", {"p": 1})), ("2-0", fields("1-0", {"p": 2})),
               ("3-0", fields("2-0", {"p": 3}))]  # fmt: skip
    hub.publish(event("3-0", "2-0", {"p": 3}))  # the reader saw it after subscribe
    hub.publish(event("4-0", "3-0", {"p": 4}))
    replay = plan_replay(
        CHANNEL, Position(epoch="e1", seq="1-0"), history, max_entries=10, max_bytes=ROOMY
    )
    assert replay is not None
    hub.resume(sub, replay)
    hub.publish(event("5-0", "4-0", {"p": 5}))
    frames = socket.decoded()
    assert frames[0] == Subscribed(channel=CHANNEL, epoch="e1", recovered=True)
    deltas = [f for f in frames[1:] if isinstance(f, Delta)]
    assert len(deltas) == len(frames) - 1
    assert [(d.prev_seq, d.seq) for d in deltas] == [
        ("1-0", "2-0"),
        ("2-0", "3-0"),
        ("3-0", "4-0"),
        ("4-0", "5-0"),
    ]


def test_heartbeat_reaches_every_client() -> None:
    """A heartbeat goes to every connected client, subscribed or not."""
    hub = Hub()
    sockets = [FakeSocket() for _ in range(2)]
    for socket in sockets:
        hub.connect(socket, ROOMY)
    hub.beat(123.5)
    for socket in sockets:
        assert [orjson.loads(f.text) for f in socket.frames] == [{"type": "heartbeat", "ts": 123.5}]


class Recorder:
    """A HubObserver that remembers what it heard."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.closed: list[int] = []
        self.delivered: list[tuple[str, float]] = []
        self.observer = SimpleNamespace(
            sent=self.sent.append,
            closed=self.closed.append,
            delivered=lambda channel, lag: self.delivered.append((channel, lag)),
        )


def test_frames_written_are_counted_once_per_fan_out() -> None:
    """The observer hears the number of frames written per fan-out, not a call per client."""
    seen = Recorder()
    hub = Hub(seen.observer)
    sockets = [FakeSocket() for _ in range(3)]
    for socket in sockets:
        hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), None)
    seen.sent.clear()
    hub.publish(event("1-0", "", {"p": 1}))
    hub.beat(1.0)
    assert seen.sent == [3, 3]


def test_delivery_lag_is_reported_once_per_event_that_reached_a_subscriber(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Publish → written to subscribers, from the entry's ts, once per event (not per client);
    an event nobody is subscribed to is not a delivery."""
    seen = Recorder()
    hub = Hub(seen.observer)
    monkeypatch.setattr("marketpulse_gateway.stream.hub.time.time", lambda: 1.25)
    hub.publish(event("1-0", "", {"p": 1}))  # no subscriber yet
    for _ in range(2):
        hub.start(hub.subscribe(hub.connect(FakeSocket(), ROOMY), CHANNEL), None)
    hub.publish(event("2-0", "1-0", {"p": 2}))
    assert seen.delivered == [(CHANNEL, 0.25)]


def test_closes_are_reported_when_decided() -> None:
    """The observer hears each close the moment the hub or a session decides it, once."""
    seen = Recorder()
    hub = Hub(seen.observer)
    slow = hub.connect(FakeSocket(stalled=True), 100)
    hub.start(hub.subscribe(slow, CHANNEL), None)
    hub.publish(event("1-0", "", {"p": 1}))
    hub.connect(FakeSocket(), ROOMY).close(CLOSE_SERVICE_RESTART)
    slow.close(CLOSE_SERVICE_RESTART)
    assert seen.closed == [CLOSE_SLOW, CLOSE_SERVICE_RESTART]


def test_malformed_entry_is_rejected() -> None:
    """An entry without the publisher's fields or with a bad id cannot become an event."""
    with pytest.raises(PoisonMessage, match="no ts"):
        ChannelEvent.from_entry(CHANNEL, "1-0", {"s": "ticker/1", "d": "{}"})
    with pytest.raises(ValueError, match="stream position"):
        ChannelEvent.from_entry(
            CHANNEL, "nope", {"s": "ticker/1", "d": "{}", "ts": "1", "epoch": "e"}
        )


def test_history_that_went_back_gives_a_fresh_snapshot_not_a_broken_delta() -> None:
    """After a failover lost the newest entries (same epoch, the next entry follows an older
    one), live subscribers are told recovered: false and get that entry as a snapshot."""
    hub, socket = Hub(), FakeSocket()
    hub.prime(event("1-0", "", {"p": 1}))
    hub.start(hub.subscribe(hub.connect(socket, ROOMY), CHANNEL), snapshot("1-0", {"p": 1}))
    hub.publish(event("2-0", "1-0", {"p": 2}))
    hub.publish(event("3-0", "2-0", {"p": 3}))  # 3-0 and 2-0 are lost with the old master
    hub.publish(event("9-0", "1-0", {"p": 9}))  # the promoted replica's history goes on
    hub.publish(event("10-0", "9-0", {"p": 10}))
    frames = socket.decoded()
    assert socket.types_and_seqs()[-4:] == [
        ("delta", "3-0"),
        ("subscribed", None),
        ("snapshot", "9-0"),
        ("delta", "10-0"),
    ]
    resubscribed = [f for f in frames if isinstance(f, Subscribed)][-1]
    assert resubscribed.recovered is False
    assert [f for f in frames if isinstance(f, Delta)][-1].prev_seq == "9-0"
