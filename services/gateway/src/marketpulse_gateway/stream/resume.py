"""Resuming a channel from a client's `{epoch, seq}` with the stream's history. Pure.

The channel stream is the whole state a resume needs, so any gateway replica can resume any
client. The session reads the entries from the client's seq on (`XRANGE key seq +`, the
entry at seq included when it is still there) and `plan_replay` decides:

- recovered: the entry at seq and every one after it are present, in one unbroken chain —
  the first one after seq names it as `prev`, each next one the one before — all in the
  client's epoch. The client gets `subscribed` with `recovered: true` and then those updates
  as ordinary deltas, **no snapshot**: it keeps the state it has, and the first delta's
  `prev_seq` is its own seq. Each delta is diffed against the full value of the entry
  before it (every entry holds the full value), so the client ends with exactly the state
  it would have had without the disconnection.
- not recovered (None): the epoch changed (history was lost and restarted), the position
  was trimmed away, it is in the future or not a position at all, or the replay would be
  larger than a snapshot is worth (more than `max_entries` updates or `max_bytes` of
  frames). The client gets `recovered: false` and a fresh snapshot instead. A position
  whose own entry was trimmed is not recovered even when the next entry still names it as
  `prev`: without the value the client holds, no delta can remove a field it has and the
  next value lacks (a full value merged over it would leave that field behind).

The history read keeps only `servable` entries: one the live reader would skip (not in the
publisher's format, or a payload that does not match its schema: see reader.py) is dropped
there too, so a resumed client never sees a value a connected one was spared, and its chain
is checked without it.

Going live after the replay is the same join as after a snapshot (see hub.py), with the last
replayed seq as the floor: everything published later reaches the client exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from marketpulse_common.errors import PoisonMessage
from marketpulse_common.publisher import entry_from_fields
from marketpulse_gateway.channel_event import seq_key
from marketpulse_gateway.stream.delta import changed_fields
from marketpulse_gateway.stream.protocol import Delta, Position, encode_frame

# (stream entry id, its fields as read: see publisher.entry_from_fields)
Entry = tuple[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Replay:
    """The updates a resuming client missed, encoded, and where they leave it."""

    epoch: str
    frames: tuple[str, ...]
    last_seq: str


def replay_read_count(max_entries: int) -> int:
    """How many entries to read: the one at seq, up to `max_entries` after it, and one more
    to notice when there are too many."""
    return max_entries + 2


def plan_replay(
    channel: str,
    position: Position,
    entries: Sequence[Entry],
    *,
    max_entries: int,
    max_bytes: int,
) -> Replay | None:
    """The replay that brings a client at `position` up to date, or None (take a snapshot)."""
    if not valid_position(position.seq) or not entries:
        return None  # empty history (lost) or nothing at or after seq (a future position)
    try:
        return _chain(channel, position, entries, max_entries=max_entries, max_bytes=max_bytes)
    except (PoisonMessage, ValueError):
        return None  # an entry not in the publisher's format (or not JSON): do not guess


def servable(entries: Sequence[Entry]) -> list[Entry]:
    """The entries the live reader would deliver, in order: those in the publisher's format
    whose payload passes its schema."""
    return [entry for entry in entries if _passes(entry[1])]


def valid_position(seq: str) -> bool:
    try:
        seq_key(seq)
    except ValueError:
        return False
    return True


def _chain(
    channel: str,
    position: Position,
    entries: Sequence[Entry],
    *,
    max_entries: int,
    max_bytes: int,
) -> Replay | None:
    first_id, first_fields = entries[0]
    if first_id != position.seq:
        return None  # the client's own entry is gone: its value is unknown here
    first = entry_from_fields(first_fields)
    if first.epoch != position.epoch:
        return None
    base: Any = orjson.loads(first.data)
    missed = entries[1:]
    if len(missed) > max_entries:
        return None
    frames: list[str] = []
    size = 0
    prev, before = position.seq, base
    for entry_id, fields in missed:
        entry = entry_from_fields(fields)
        if entry.epoch != position.epoch or entry.prev != prev:
            return None  # trimmed past the client, a new epoch, or not a position of ours
        value = orjson.loads(entry.data)
        delta = Delta(
            channel=channel,
            epoch=position.epoch,
            seq=entry_id,
            prev_seq=prev,
            data=changed_fields(before, value),
        )
        frames.append(encode_frame(delta))
        size += len(frames[-1])
        if size > max_bytes:
            return None
        prev, before = entry_id, value
    return Replay(epoch=position.epoch, frames=tuple(frames), last_seq=prev)


def _passes(fields: Mapping[str, str]) -> bool:
    try:
        entry_from_fields(fields).decode()
    except PoisonMessage:
        return False
    return True
