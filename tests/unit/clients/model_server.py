"""A model of the gateway's stream for one channel, built from the gateway's own pure parts.

Frames are encoded with the gateway's frame models, deltas diffed with its `changed_fields`
exactly as the hub does (against the value the entry follows, else the whole value), and
resumes planned by its `plan_replay` over entries in the publisher's format; so the client
under test reads the very bytes a gateway would send it.
"""

from __future__ import annotations

import json
from typing import Any

from marketpulse_gateway.stream.delta import changed_fields
from marketpulse_gateway.stream.protocol import (
    Delta,
    SnapshotFrame,
    Subscribe,
    Subscribed,
    encode_frame,
    parse_client_op,
)
from marketpulse_gateway.stream.resume import Entry, plan_replay

MAX_REPLAY_ENTRIES = 500
REPLAY_BYTES = 512 * 1024


class ModelChannel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.epochs = 0
        self.epoch = self._new_epoch()
        self.entries: list[Entry] = []
        self.ms = 1_700_000_000_000
        self.latest: tuple[str, str, Any] | None = None  # seq, epoch, value
        self.hub_latest: tuple[str, str, Any] | None = None

    def _new_epoch(self) -> str:
        self.epochs += 1
        return f"epoch{self.epochs:04d}"

    def publish(self, value: Any) -> str:
        """Append an entry as the publisher does; returns the delta frame the hub sends."""
        prev = self.entries[-1][0] if self.entries else ""
        self.ms += 1
        seq = f"{self.ms}-0"
        data = json.dumps(value)
        self.entries.append(
            (seq, {"s": "x", "ts": "0", "d": data, "prev": prev, "epoch": self.epoch})
        )
        hub = self.hub_latest
        follows = hub is not None and (hub[0], hub[1]) == (prev or None, self.epoch)
        before = hub[2] if follows and hub is not None else None
        self.latest = self.hub_latest = (seq, self.epoch, value)
        delta = Delta(
            channel=self.name,
            epoch=self.epoch,
            seq=seq,
            prev_seq=prev or None,
            data=changed_fields(before, value),
        )
        return encode_frame(delta)

    def lose_history(self) -> None:
        """Redis lost its data: the stream and snapshot are gone; the next publish starts a
        new epoch (the hub still remembers the old value, as a running gateway would)."""
        self.entries = []
        self.latest = None
        self.epoch = self._new_epoch()

    def trim(self, keep: int) -> None:
        self.entries = self.entries[-keep:] if keep else []

    def answer(self, op_text: str) -> list[str]:
        """The frames a subscribe (with or without resume) is answered with."""
        op = parse_client_op(op_text)
        if not isinstance(op, Subscribe):
            return []
        position = (op.resume or {}).get(self.name)
        if position is not None:
            start = _first_at_or_after(self.entries, position.seq)
            replay = plan_replay(
                self.name,
                position,
                self.entries[start:],
                max_entries=MAX_REPLAY_ENTRIES,
                max_bytes=REPLAY_BYTES,
            )
            if replay is not None:
                subscribed = Subscribed(channel=self.name, epoch=replay.epoch, recovered=True)
                return [encode_frame(subscribed), *replay.frames]
        if self.latest is None:
            snapshot = SnapshotFrame(channel=self.name, epoch=None, seq=None, data=None)
            epoch = None
        else:
            seq, epoch, value = self.latest
            snapshot = SnapshotFrame(channel=self.name, epoch=epoch, seq=seq, data=value)
        subscribed = Subscribed(channel=self.name, epoch=epoch, recovered=False)
        return [encode_frame(subscribed), encode_frame(snapshot)]


def _first_at_or_after(entries: list[Entry], seq: str) -> int:
    """XRANGE key seq +: entries from seq on (ids are `<ms>-0` here, so compare ms)."""
    try:
        ms = int(seq.partition("-")[0])
    except ValueError:
        return len(entries)
    for i, (entry_id, _) in enumerate(entries):
        if int(entry_id.partition("-")[0]) >= ms:
            return i
    return len(entries)
