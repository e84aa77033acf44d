"""Resume planning: which positions history can honour, and replays that rebuild the state."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpulse_gateway.stream.delta import apply_delta
from marketpulse_gateway.stream.protocol import Delta, Position, decode_frame
from marketpulse_gateway.stream.resume import (
    Entry,
    Replay,
    plan_replay,
    replay_read_count,
    servable,
)

CHANNEL = "ticker:bitcoin"
ROOMY = 1 << 20


def history(values: list[dict[str, Any]], epoch: str = "e1", first: int = 1) -> list[Entry]:
    """Entries as the publisher writes them: ids first-0, first+1-0, … chained by prev."""
    entries: list[Entry] = []
    prev = ""
    for n, value in enumerate(values, start=first):
        seq = f"{n}-0"
        fields = {"s": "ticker/1", "ts": "1", "d": orjson.dumps(value).decode(), "prev": prev,
                  "epoch": epoch, "src": "test"}  # fmt: skip
        entries.append((seq, fields))
        prev = seq
    return entries


def from_seq(entries: list[Entry], seq: str) -> list[Entry]:
    """What `XRANGE stream <seq> +` answers."""
    return [
        e for e in entries if tuple(map(int, e[0].split("-"))) >= tuple(map(int, seq.split("-")))
    ]


def plan(entries: list[Entry], seq: str, epoch: str = "e1", **limits: int) -> Replay | None:
    return plan_replay(
        CHANNEL,
        Position(epoch=epoch, seq=seq),
        from_seq(entries, seq),
        max_entries=limits.get("max_entries", 100),
        max_bytes=limits.get("max_bytes", ROOMY),
    )


def deltas(replay: Replay) -> list[Delta]:
    frames = [decode_frame(text) for text in replay.frames]
    assert all(isinstance(f, Delta) for f in frames)
    return frames  # type: ignore[return-value]


def ticker(price: float, **optional: float) -> dict[str, Any]:
    """A ticker payload that passes its schema (ticker/1), as a producer publishes it."""
    return {"asset": "bitcoin", "vs_currency": "usd", "price": price,
            "last_updated": "2026-01-01T00:00:00Z", **optional}  # fmt: skip


VALUES = [ticker(n, volume_24h=7) for n in range(1, 6)]


class TestResumeTable:
    def test_valid_position_replays_every_missed_update_in_order(self) -> None:
        """From a position still in history: every later update, chained from the client's seq."""
        replay = plan(history(VALUES), "2-0")
        assert replay is not None
        assert (replay.epoch, replay.last_seq) == ("e1", "5-0")
        assert [(d.prev_seq, d.seq) for d in deltas(replay)] == [
            ("2-0", "3-0"),
            ("3-0", "4-0"),
            ("4-0", "5-0"),
        ]
        assert [d.data for d in deltas(replay)] == [{"price": 3}, {"price": 4}, {"price": 5}]

    def test_position_at_the_newest_entry_is_up_to_date(self) -> None:
        """A client that missed nothing is recovered with an empty replay."""
        replay = plan(history(VALUES), "5-0")
        assert replay == Replay(epoch="e1", frames=(), last_seq="5-0")

    def test_trimmed_position_is_not_recovered(self) -> None:
        """When entries after the client's seq were trimmed, a snapshot is needed."""
        trimmed = history(VALUES)[3:]  # 1-0 … 3-0 are gone
        assert plan(trimmed, "2-0") is None

    def test_own_entry_trimmed_is_not_recovered_even_when_the_next_one_chains(self) -> None:
        """The entry at seq is gone but the next one names it as prev. Its value cannot say
        which fields the client holds that it lacks: merged over the client's state it would
        leave a removed field behind, so only a snapshot is exact."""
        values = [{"a": 1, "gone": True}, {"a": 2}]
        entries = history(values)[1:]  # 1-0 is gone; 2-0 has prev 1-0
        assert plan(entries, "1-0") is None

    def test_future_position_is_not_recovered(self) -> None:
        """A seq beyond the newest entry (nothing at or after it) is not recovered."""
        assert plan(history(VALUES), "9-0") is None

    def test_changed_epoch_is_not_recovered(self) -> None:
        """A position from another epoch (history lost and restarted) is not recovered."""
        assert plan(history(VALUES, epoch="e2"), "2-0", epoch="e1") is None

    def test_epoch_change_inside_history_is_not_recovered(self) -> None:
        """If the epoch changes after the client's seq, the chain is broken."""
        entries = history(VALUES[:3]) + history(VALUES[3:], epoch="e2", first=4)
        assert plan(entries, "2-0") is None

    def test_position_between_entries_is_not_recovered(self) -> None:
        """A seq that was never an entry (no successor names it) is not recovered."""
        assert plan(history(VALUES), "2-5") is None

    @pytest.mark.parametrize("seq", ["", "abc", "1", "1-x"])
    def test_malformed_position_is_not_recovered(self, seq: str) -> None:
        """Anything that is not a stream id is simply not recovered."""
        position = Position(epoch="e1", seq=seq)
        entries = history(VALUES)
        assert plan_replay(CHANNEL, position, entries, max_entries=9, max_bytes=ROOMY) is None

    def test_too_far_behind_takes_a_snapshot(self) -> None:
        """More missed updates than allowed, or more bytes than allowed: a snapshot instead."""
        entries = history(VALUES)
        assert plan(entries, "1-0", max_entries=3) is None
        assert plan(entries, "1-0", max_entries=4) is not None
        assert plan(entries, "1-0", max_bytes=100) is None

    def test_entry_not_in_publisher_format_is_not_recovered(self) -> None:
        """A malformed entry in the way means no replay, never a guess."""
        entries = history(VALUES)
        entries[3] = (entries[3][0], {"prev": "3-0", "epoch": "e1"})  # no data
        assert plan(entries, "2-0") is None
        # Dropped as the live reader drops it, the next entry names it as prev: still broken.
        assert plan(servable(entries), "2-0") is None

    def test_foreign_entry_is_never_replayed(self) -> None:
        """An entry in the publisher's format whose payload fails its schema (written by
        something other than a producer) reached no live client: a resume skips it too."""
        entries = history(VALUES)
        foreign = {"s": "ticker/1", "ts": "1", "d": orjson.dumps({"price": -1}).decode(),
                   "prev": "5-0", "epoch": "e1"}  # fmt: skip
        replay = plan(servable([*entries, ("6-0", foreign)]), "3-0")
        assert replay is not None
        assert [d.seq for d in deltas(replay)] == ["4-0", "5-0"]
        assert replay.last_seq == "5-0"

    def test_foreign_entry_between_updates_does_not_break_the_chain(self) -> None:
        """The publisher chains past a foreign entry (its prev is the last value it wrote), and
        so does the replay: recovered, with the foreign entry left out."""
        entries = history(VALUES)
        foreign = {"s": "ticker/1", "ts": "1", "d": "not json", "prev": "3-0", "epoch": "e1"}
        entries.insert(3, ("3-1", foreign))
        replay = plan(servable(entries), "2-0")
        assert replay is not None
        assert [(d.prev_seq, d.seq) for d in deltas(replay)] == [
            ("2-0", "3-0"),
            ("3-0", "4-0"),
            ("4-0", "5-0"),
        ]

    def test_read_count_leaves_room_to_notice_too_many(self) -> None:
        """The history read asks for the entry at seq, the limit, and one more."""
        assert replay_read_count(500) == 502


OPTIONAL = ("change_24h_pct", "high_24h", "low_24h", "volume_24h", "market_cap")


@given(
    st.lists(
        st.builds(
            lambda price, optional: ticker(price, **optional),
            st.integers(1, 3),
            st.dictionaries(st.sampled_from(OPTIONAL), st.integers(1, 3)),
        ),
        min_size=1,
        max_size=12,
    ),
    st.data(),
)
def test_resumed_state_equals_the_never_disconnected_state(
    values: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Applying the replay to the state a client held at any seq gives the newest value."""
    entries = history(values)
    at = data.draw(st.integers(0, len(values) - 1))
    replay = plan(entries, entries[at][0])
    assert replay is not None
    state: Any = values[at]
    for delta in deltas(replay):
        state = apply_delta(state, delta.data)
    latest = values[-1]
    assert {k: v for k, v in state.items() if v is not None} == latest
