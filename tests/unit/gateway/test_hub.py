"""The fan-out hub: exact joins, one encoding per event, and slow clients cut off alone."""

from __future__ import annotations

import orjson
import pytest

from marketpulse_common.publisher import Snapshot
from marketpulse_gateway.hub import SLOW_CLOSE_CODE, ChannelEvent, Hub, Outbox
from marketpulse_gateway.protocol import Delta, SnapshotFrame, decode_frame

CHANNEL = "ticker:bitcoin"


def event(seq: str, prev: str, value: dict[str, object], epoch: str = "e1") -> ChannelEvent:
    fields = {"s": "ticker/1", "ts": "1.0", "d": orjson.dumps(value).decode(), "prev": prev}
    return ChannelEvent.from_entry(CHANNEL, seq, {**fields, "epoch": epoch})


def snapshot(seq: str, value: dict[str, object], epoch: str = "e1") -> Snapshot:
    return Snapshot("ticker/1", 1.0, orjson.dumps(value).decode(), seq, epoch)


async def drain(outbox: Outbox) -> list[str | None]:
    frames = []
    while outbox.backlog():
        frames.append(await outbox.next_frame())
    return frames


async def types_and_seqs(outbox: Outbox) -> list[tuple[str, str | None]]:
    out = []
    for text in await drain(outbox):
        assert text is not None
        frame = decode_frame(text)
        out.append((frame.type, getattr(frame, "seq", None)))
    return out


async def test_join_drops_what_the_snapshot_covers() -> None:
    """Events buffered while the snapshot is read are sent only if newer than the snapshot."""
    hub = Hub()
    outbox = hub.connect(100)
    sub = hub.subscribe(outbox, CHANNEL)
    hub.publish(event("1-0", "", {"p": 1}))
    hub.publish(event("2-0", "1-0", {"p": 2}))
    hub.start(sub, snapshot("1-0", {"p": 1}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    assert await types_and_seqs(outbox) == [
        ("subscribed", None),
        ("snapshot", "1-0"),
        ("delta", "2-0"),
        ("delta", "3-0"),
    ]


async def test_lagging_reader_cannot_repeat_an_update() -> None:
    """Entries the snapshot already covers, delivered late by the reader, are dropped."""
    hub = Hub()
    outbox = hub.connect(100)
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("3-0", {"p": 3}))
    for seq, prev in [("2-0", "1-0"), ("3-0", "2-0"), ("4-0", "3-0"), ("3-0", "2-0")]:
        hub.publish(event(seq, prev, {"p": int(seq[0])}))
    assert [s for _, s in await types_and_seqs(outbox)] == [None, "3-0", "4-0"]


async def test_no_snapshot_yet() -> None:
    """Before any value the snapshot frame is all null and the first delta is the whole value."""
    hub = Hub()
    outbox = hub.connect(100)
    hub.start(hub.subscribe(outbox, CHANNEL), None)
    hub.publish(event("1-0", "", {"p": 1, "q": 2}))
    frames = [decode_frame(t) for t in await drain(outbox) if t]
    assert frames[1] == SnapshotFrame(channel=CHANNEL, epoch=None, seq=None, data=None)
    assert isinstance(frames[2], Delta)
    assert frames[2].data == {"p": 1, "q": 2}
    assert frames[2].prev_seq is None


async def test_each_event_is_encoded_once() -> None:
    """Every subscriber receives the very same encoded text object."""
    hub = Hub()
    outboxes = [hub.connect(100) for _ in range(3)]
    for outbox in outboxes:
        hub.start(hub.subscribe(outbox, CHANNEL), None)
        await drain(outbox)
    hub.publish(event("1-0", "", {"p": 1}))
    frames = [(await drain(outbox))[0] for outbox in outboxes]
    assert frames[0] is frames[1] is frames[2]


async def test_deltas_carry_changed_fields_only_when_they_follow() -> None:
    """A delta is a diff against the value it follows; after a gap or new epoch it is whole."""
    hub = Hub()
    outbox = hub.connect(100)
    hub.prime(event("1-0", "", {"p": 1, "v": 9}))
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("1-0", {"p": 1, "v": 9}))
    hub.publish(event("2-0", "1-0", {"p": 2, "v": 9}))
    hub.publish(event("4-0", "3-0", {"p": 4, "v": 9}))  # 3-0 never reached us
    hub.publish(event("5-0", "", {"p": 5, "v": 9}, epoch="e2"))
    deltas = [decode_frame(t) for t in await drain(outbox) if t][2:]
    assert [d.data for d in deltas if isinstance(d, Delta)] == [
        {"p": 2},
        {"p": 4, "v": 9},
        {"p": 5, "v": 9},
    ]


async def test_slow_client_is_closed_without_touching_others() -> None:
    """A full outbox closes that client with 4008; other subscribers get every event."""
    hub = Hub()
    slow, healthy = hub.connect(4), hub.connect(100)
    for outbox in (slow, healthy):
        hub.start(hub.subscribe(outbox, CHANNEL), None)
    for n in range(1, 6):
        hub.publish(event(f"{n}-0", f"{n - 1}-0" if n > 1 else "", {"p": n}))
    assert slow.close_code == SLOW_CLOSE_CODE
    assert await drain(slow) == [None]
    assert [s for t, s in await types_and_seqs(healthy) if t == "delta"] == [
        "1-0",
        "2-0",
        "3-0",
        "4-0",
        "5-0",
    ]


async def test_unsubscribe_and_disconnect_stop_delivery() -> None:
    """After unsubscribe (or disconnect) a client gets no more deltas for the channel."""
    hub = Hub()
    a, b = hub.connect(100), hub.connect(100)
    for outbox in (a, b):
        hub.start(hub.subscribe(outbox, CHANNEL), None)
        await drain(outbox)
    hub.unsubscribe(a, CHANNEL)
    hub.disconnect(b)
    hub.publish(event("1-0", "", {"p": 1}))
    assert await drain(a) == []
    assert await drain(b) == []
    assert hub.subscriber_count(CHANNEL) == 0
    assert hub.client_count == 1


async def test_start_after_unsubscribe_sends_nothing() -> None:
    """A subscription cancelled while its snapshot was being read never goes live."""
    hub = Hub()
    outbox = hub.connect(100)
    sub = hub.subscribe(outbox, CHANNEL)
    hub.unsubscribe(outbox, CHANNEL)
    hub.start(sub, snapshot("1-0", {"p": 1}))
    assert await drain(outbox) == []


async def test_resubscribe_gives_a_fresh_snapshot() -> None:
    """Subscribing again (e.g. after a gap) replaces the subscription with a new snapshot."""
    hub = Hub()
    outbox = hub.connect(100)
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("1-0", {"p": 1}))
    hub.start(hub.subscribe(outbox, CHANNEL), snapshot("2-0", {"p": 2}))
    hub.publish(event("3-0", "2-0", {"p": 3}))
    assert await types_and_seqs(outbox) == [
        ("subscribed", None),
        ("snapshot", "1-0"),
        ("subscribed", None),
        ("snapshot", "2-0"),
        ("delta", "3-0"),
    ]
    assert hub.subscriber_count(CHANNEL) == 1


async def test_heartbeat_reaches_every_client() -> None:
    """A heartbeat goes to every connected client, subscribed or not."""
    hub = Hub()
    outboxes = [hub.connect(10) for _ in range(2)]
    hub.beat(123.5)
    for outbox in outboxes:
        assert [orjson.loads(t or "") for t in await drain(outbox)] == [
            {"type": "heartbeat", "ts": 123.5}
        ]


def test_malformed_entry_is_rejected() -> None:
    """An entry without the publisher's fields or with a bad id cannot become an event."""
    with pytest.raises(KeyError):
        ChannelEvent.from_entry(CHANNEL, "1-0", {"d": "{}"})
    with pytest.raises(ValueError, match="stream position"):
        ChannelEvent.from_entry(CHANNEL, "nope", {"d": "{}", "ts": "1", "epoch": "e"})
