"""The channel book: what a frame does to a held value, and which ops go out."""

from __future__ import annotations

import json

import pytest

from marketpulse_client.book import STRAY_GRACE_S, ChannelBook, Signal
from marketpulse_client.channel import Phase, SavedPosition
from tests.unit.clients.frames_for_tests import delta, error, snapshot, subscribed

CH = "ticker:bitcoin"


def live_book(value: object = None, seq: str = "100-0") -> ChannelBook:
    book = ChannelBook()
    book.add(CH)
    book.take_ops()
    book.receive(subscribed(CH))
    book.receive(snapshot(CH, seq, value if value is not None else {"price": 1, "high": 2}))
    return book


def test_a_snapshot_then_a_delta_merge_and_null_removes_a_field() -> None:
    """Delta fields overwrite, a null field is removed, and the update carries both."""
    book = live_book({"price": 1, "high": 2})
    got = book.receive(delta(CH, "101-0", "100-0", {"price": 3, "high": None}))
    assert got.update is not None
    assert got.update.value == {"price": 3}
    assert (got.update.seq, got.update.prev_seq, got.update.kind) == ("101-0", "100-0", "delta")
    assert book.diagnostics.deltas == 1


def test_a_duplicate_delta_is_ignored_without_a_resync() -> None:
    """A delta at or below the held seq changes nothing and asks for nothing."""
    book = live_book()
    book.receive(delta(CH, "101-0", "100-0", {"price": 3}))
    again = book.receive(delta(CH, "101-0", "100-0", {"price": 3}))
    older = book.receive(delta(CH, "100-0", "99-0", {"price": 0}))
    assert again.update is None and older.update is None
    assert again.signal is Signal.NONE and older.signal is Signal.NONE
    assert book.diagnostics.duplicates == 2 and book.diagnostics.resyncs == 0
    assert book.get(CH).value["price"] == 3  # type: ignore[union-attr]


def test_seq_order_is_numeric_not_textual() -> None:
    """`<ms>-<n>` compares as numbers: 99-0 < 100-0 and 100-9 < 100-10."""
    book = live_book(seq="100-9")
    assert book.receive(delta(CH, "100-10", "100-9", {"price": 5})).update is not None
    assert book.receive(delta(CH, "100-9", "100-8", {"price": 6})).update is None
    assert book.diagnostics.duplicates == 1


def test_a_gap_asks_for_a_fresh_snapshot_without_resume() -> None:
    """prev_seq not the held seq: ignored, and the next op re-subscribes with no resume."""
    book = live_book()
    got = book.receive(delta(CH, "103-0", "102-0", {"price": 9}))
    assert got.update is None and got.signal is Signal.SEND
    assert book.diagnostics.gaps == 1 and book.diagnostics.resyncs == 1
    assert [json.loads(op) for op in book.take_ops()] == [{"op": "subscribe", "channels": [CH]}]


def test_an_epoch_change_asks_for_a_fresh_snapshot() -> None:
    """A delta of another epoch means the history was lost: resync, counted as such."""
    book = live_book()
    got = book.receive(delta(CH, "200-0", None, {"price": 9}, epoch="e2"))
    assert got.update is None and got.signal is Signal.SEND
    assert book.diagnostics.epoch_changes == 1 and book.diagnostics.gaps == 0
    assert book.get(CH).phase is Phase.WANT  # type: ignore[union-attr]


def test_frames_of_a_replaced_subscription_are_ignored_until_the_new_snapshot() -> None:
    """After a resync request, deltas still in flight are ignored; the snapshot resets."""
    book = live_book()
    book.receive(delta(CH, "103-0", "102-0", {"price": 9}))
    book.take_ops()
    assert book.receive(delta(CH, "104-0", "103-0", {"price": 10})).update is None
    book.receive(subscribed(CH))
    assert book.receive(delta(CH, "104-0", "103-0", {"price": 10})).update is None
    got = book.receive(snapshot(CH, "104-0", {"price": 10, "high": 2}))
    assert got.update is not None and got.update.kind == "snapshot"
    assert book.receive(delta(CH, "105-0", "104-0", {"price": 11})).update is not None
    assert book.diagnostics.ignored == 2


def test_a_channel_without_a_value_takes_the_first_entry_of_a_history() -> None:
    """A null snapshot, then a delta with no prev_seq: that delta is the whole value."""
    book = ChannelBook()
    book.add(CH)
    book.take_ops()
    book.receive(subscribed(CH, epoch=None))
    book.receive(snapshot(CH, None, None, epoch=None))
    got = book.receive(delta(CH, "1-0", None, {"price": 1, "x": None}))
    assert got.update is not None and got.update.value == {"price": 1}
    assert book.positions()[CH] == SavedPosition("e1", "1-0", {"price": 1})


def test_a_reconnect_resumes_from_the_held_position() -> None:
    """After a lost connection the subscribe carries {epoch, seq}; recovered means no snapshot."""
    book = live_book()
    book.receive(delta(CH, "101-0", "100-0", {"price": 3}))
    book.connection_lost()
    (op,) = book.take_ops()
    assert json.loads(op) == {
        "op": "subscribe",
        "channels": [CH],
        "resume": {CH: {"epoch": "e1", "seq": "101-0"}},
    }
    book.receive(subscribed(CH, recovered=True))
    got = book.receive(delta(CH, "102-0", "101-0", {"price": 4}))
    assert got.update is not None and got.update.value == {"price": 4, "high": 2}
    assert book.diagnostics.resumes_recovered == 1


def test_a_refused_resume_is_followed_by_the_snapshot() -> None:
    book = live_book()
    book.connection_lost()
    book.take_ops()
    book.receive(subscribed(CH, recovered=False))
    got = book.receive(snapshot(CH, "300-0", {"price": 7}))
    assert got.update is not None and got.update.value == {"price": 7}
    assert book.diagnostics.resumes_refused == 1


def test_saved_positions_resume_before_any_snapshot() -> None:
    """A book built from saved positions resumes them on its first connection."""
    book = ChannelBook({CH: SavedPosition("e1", "50-0", {"price": 1})})
    book.add(CH)
    (op,) = book.take_ops()
    assert json.loads(op)["resume"] == {CH: {"epoch": "e1", "seq": "50-0"}}
    book.receive(subscribed(CH, recovered=True))
    got = book.receive(delta(CH, "51-0", "50-0", {"price": 2}))
    assert got.update is not None and got.update.value == {"price": 2}


def test_subscribes_are_chunked_and_unsubscribes_sent_only_when_subscribed() -> None:
    book = ChannelBook()
    names = [f"ticker:a{i}" for i in range(120)]
    for name in names:
        book.add(name)
    book.remove("ticker:a0")  # never sent: nothing to tell the server
    ops = [json.loads(op) for op in book.take_ops()]
    assert [len(op["channels"]) for op in ops] == [50, 50, 19]
    book.remove("ticker:a1")
    assert json.loads(book.take_ops()[0]) == {"op": "unsubscribe", "channels": ["ticker:a1"]}


def test_leaving_a_channel_that_waits_to_resync_still_unsubscribes() -> None:
    """A gap sends the channel back to be subscribed again, but the server still holds it;
    if the resubscribe is refused for now and the app leaves the channel meanwhile, the
    server is told."""
    book = live_book(seq="1-0")
    book.receive(delta(CH, "3-0", "2-0", {"price": 3}))  # a gap: resync
    book.take_ops()
    book.receive(error("rate_limited", "slow down"))
    book.remove(CH)
    assert [json.loads(op) for op in book.take_ops()] == [{"op": "unsubscribe", "channels": [CH]}]


def test_after_a_reconnect_a_channel_not_yet_resubscribed_needs_no_unsubscribe() -> None:
    book = live_book()
    book.connection_lost()
    book.remove(CH)
    assert book.take_ops() == []


def test_an_unknown_channel_fails_that_channel_only() -> None:
    book = ChannelBook()
    book.add(CH)
    book.add("ticker:nope")
    book.take_ops()
    got = book.receive(error("unknown_channel", "asset is not tracked", "ticker:nope"))
    assert [f.channel for f in got.failures] == ["ticker:nope"]
    assert "ticker:nope" not in book and CH in book


@pytest.mark.parametrize("code", ["rate_limited", "unavailable"])
def test_a_subscribe_refused_for_now_is_sent_again(code: str) -> None:
    book = ChannelBook()
    book.add(CH)
    book.take_ops()
    got = book.receive(error(code))
    assert got.signal is Signal.RETRY_LATER and not got.failures
    assert book.has_ops


def test_too_many_channels_fails_the_channels_waiting_for_an_answer() -> None:
    book = live_book()
    book.add("ticker:eth")
    book.take_ops()
    got = book.receive(error("too_many_channels"))
    assert [f.channel for f in got.failures] == ["ticker:eth"]
    assert CH in book


def test_a_malformed_subscribe_fails_the_channels_waiting_for_an_answer() -> None:
    """bad_request to a whole subscribe (an older gateway names no channels): its channels
    fail rather than wait for an answer that will never come; the live channel stays."""
    book = live_book()
    book.add("ticker:eth")
    book.take_ops()
    got = book.receive(error("bad_request", "channels.0: too long"))
    assert [(f.channel, f.code) for f in got.failures] == [("ticker:eth", "bad_request")]
    assert "ticker:eth" not in book and CH in book


def test_an_accepted_subscribe_is_marked_so_retries_start_over() -> None:
    book = ChannelBook()
    book.add(CH)
    book.take_ops()
    assert book.receive(subscribed(CH)).accepted
    assert not book.receive(snapshot(CH, "1-0", {"price": 1})).accepted


def two_subscribes_in_flight() -> ChannelBook:
    book = ChannelBook()
    for name in ("ticker:a", "ticker:b"):
        book.add(name)
        assert [json.loads(op)["channels"] for op in book.take_ops()] == [[name]]
    return book


def test_a_subscribe_refused_as_a_whole_fails_only_the_channels_it_names() -> None:
    """With two subscribes in flight, the refusal of the first names its channels: the
    second's channel still waits for its own answer."""
    book = two_subscribes_in_flight()
    got = book.receive(error("too_many_channels", channels=["ticker:a"]))
    assert [f.channel for f in got.failures] == ["ticker:a"]
    assert book.get("ticker:b").phase is Phase.AWAITING_SUBSCRIBED  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["rate_limited", "unavailable"])
def test_a_subscribe_refused_for_now_sends_again_only_the_channels_it_names(code: str) -> None:
    book = two_subscribes_in_flight()
    got = book.receive(error(code, channels=["ticker:a"]))
    assert got.signal is Signal.RETRY_LATER
    assert [json.loads(op)["channels"] for op in book.take_ops()] == [["ticker:a"]]
    assert book.get("ticker:b").phase is Phase.AWAITING_SUBSCRIBED  # type: ignore[union-attr]


def test_malformed_and_unknown_frames_are_skipped() -> None:
    book = live_book()
    assert book.receive("not json").update is None
    assert book.receive('{"type": "delta", "channel": 1}').update is None
    assert book.receive('{"type": "news", "x": 1}').update is None
    assert book.diagnostics.malformed == 2
    assert book.receive('{"type": "heartbeat", "ts": 1.5}').update is None
    assert book.diagnostics.heartbeats == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_channel_the_server_keeps_sending_after_its_unsubscribe_is_left_again() -> None:
    """An unsubscribe the server refused (rate_limited) leaves the channel held there: its
    frames keep coming. Those in flight just after the unsubscribe are ignored; one arriving
    later sends the unsubscribe again, and again at most once per grace period."""
    clock = Clock()
    book = ChannelBook(clock=clock)
    book.add(CH)
    book.take_ops()
    book.receive(subscribed(CH))
    book.receive(snapshot(CH, "100-0", {"price": 1}))
    book.remove(CH)
    assert [json.loads(op) for op in book.take_ops()] == [{"op": "unsubscribe", "channels": [CH]}]
    book.receive(error("rate_limited", "too many messages; slow down"))
    clock.now += STRAY_GRACE_S / 2
    in_flight = book.receive(delta(CH, "101-0", "100-0", {"price": 2}))
    assert in_flight.update is None and in_flight.signal is Signal.NONE
    assert book.take_ops() == []
    clock.now += STRAY_GRACE_S
    still_held = book.receive(delta(CH, "102-0", "101-0", {"price": 3}))
    assert still_held.update is None and still_held.signal is Signal.SEND
    assert [json.loads(op) for op in book.take_ops()] == [{"op": "unsubscribe", "channels": [CH]}]
    assert book.receive(delta(CH, "103-0", "102-0", {"price": 4})).signal is Signal.NONE
    assert book.diagnostics.unsubscribes_repeated == 1


def test_a_channel_never_held_on_this_connection_is_left_at_its_first_frame() -> None:
    """Frames of a channel the client did not ask for on this connection are not in flight
    from anything it did: the channel is unsubscribed on the first, once."""
    book = ChannelBook(clock=Clock())
    book.add(CH)
    book.take_ops()
    other = "ticker:ethereum"
    assert book.receive(subscribed(other)).signal is Signal.SEND
    assert book.receive(snapshot(other, "100-0", {"price": 1})).signal is Signal.NONE
    assert [json.loads(op) for op in book.take_ops()] == [
        {"op": "unsubscribe", "channels": [other]}
    ]
    assert book.get(other) is None


def test_a_resync_the_gateway_pushes_to_a_live_channel_replaces_its_value() -> None:
    """The gateway restarts a live channel from a snapshot when its history broke (the next
    value does not follow the last one sent): the value is replaced, no field kept."""
    book = live_book({"price": 1, "high": 2})
    assert book.receive(subscribed(CH, recovered=False)).update is None
    got = book.receive(snapshot(CH, "300-0", {"price": 7}))
    assert got.update is not None and got.update.value == {"price": 7}
    assert book.take_ops() == []  # nothing to ask for: it is live again
    later = book.receive(delta(CH, "301-0", "300-0", {"price": 8}))
    assert later.update is not None and later.update.value == {"price": 8}
