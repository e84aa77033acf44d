"""One channel's state on the client: its value, its position, and what it expects next. Pure.

The position is `{epoch, seq}` of the last frame applied. Per connection a channel goes

    WANT ──(subscribe op sent)──▶ AWAITING_SUBSCRIBED ──subscribed──▶ AWAITING_SNAPSHOT ─┐
                                          │ (recovered: the missed deltas follow)        │
                                          └────────────────────────▶ LIVE ◀──snapshot───┘

and a delta in LIVE is applied only when it follows the held seq in the held epoch:

- seq at or below the held one (same epoch): a duplicate, ignored;
- another epoch: the history was lost and restarted, so the held seq means nothing;
- prev_seq is not the held seq: an update was missed (a gap).

Both of the last two send the channel back to WANT for a fresh snapshot (a subscribe without
resume). Frames that arrive while a subscribe is outstanding belong to the subscription
being replaced and are ignored. A reconnect sends every channel back to WANT, this time
resuming from its position when it has one and a value to apply the missed deltas to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from marketpulse_client.frames import Delta, SeqKey, Snapshot, Subscribed, seq_key
from marketpulse_client.merge import apply_delta, canonical


class Phase(Enum):
    WANT = "want"  # a subscribe op must be sent
    AWAITING_SUBSCRIBED = "awaiting_subscribed"
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"


class Outcome(Enum):
    """What a frame did to the channel."""

    SNAPSHOT = "snapshot"  # value replaced
    DELTA = "delta"  # value merged
    RECOVERED = "recovered"  # a resume was accepted: the missed deltas follow
    NOT_RECOVERED = "not_recovered"  # a resume was refused: a snapshot follows
    SUBSCRIBED = "subscribed"  # a plain subscribe was accepted: a snapshot follows
    DUPLICATE = "duplicate"  # a delta at or below the held seq: ignored
    IGNORED = "ignored"  # not expected now (from a subscription being replaced)
    GAP = "gap"  # a delta does not follow the held seq: resync
    EPOCH = "epoch"  # a delta of another epoch: resync


RESYNC = frozenset({Outcome.GAP, Outcome.EPOCH})


@dataclass(frozen=True, slots=True)
class SavedPosition:
    """A channel's position and the value at it: enough to resume where it stopped."""

    epoch: str
    seq: str
    value: Any


class ChannelState:
    __slots__ = (
        "_key",
        "confirmed",
        "epoch",
        "held",
        "name",
        "phase",
        "resume_wanted",
        "seq",
        "synced",
        "value",
    )

    def __init__(self, name: str, saved: SavedPosition | None = None) -> None:
        self.name = name
        self.value: Any = None
        self.epoch: str | None = None
        self.seq: str | None = None
        self._key: SeqKey | None = None
        # True once a snapshot (or a saved value) gave the value a base to merge deltas into.
        self.synced = False
        # True once the gateway gave or confirmed the value (a snapshot, an accepted resume);
        # a saved value alone is a start to resume from, not the gateway's word.
        self.confirmed = False
        self.phase = Phase.WANT
        self.resume_wanted = True
        # Whether the server may hold a subscription for it on this connection (a subscribe
        # was sent): leaving the channel then needs an unsubscribe, whatever the phase.
        self.held = False
        if saved is not None:
            self.value = canonical(saved.value)
            self.epoch, self.seq, self._key = saved.epoch, saved.seq, seq_key(saved.seq)
            self.synced = True

    def position(self) -> SavedPosition | None:
        if not self.synced or self.epoch is None or self.seq is None:
            return None
        return SavedPosition(self.epoch, self.seq, self.value)

    def request(self) -> tuple[str, str] | None:
        """The subscribe op for this channel is being sent; returns the (epoch, seq) to
        resume from, or None for a plain subscribe (then a snapshot follows)."""
        self.phase = Phase.AWAITING_SUBSCRIBED
        self.held = True
        resume = self.resume_wanted and self.synced and self.epoch is not None
        if resume and self.seq is not None and self.epoch is not None:
            return self.epoch, self.seq
        return None

    def connection_lost(self) -> None:
        """The connection ended: on the next one, subscribe again and resume if possible."""
        self.phase = Phase.WANT
        self.resume_wanted = True
        self.held = False

    def resync(self) -> None:
        """Ask for a fresh snapshot: the held position is no longer trustworthy."""
        self.phase = Phase.WANT
        self.resume_wanted = False

    def on_subscribed(self, frame: Subscribed) -> Outcome:
        if frame.recovered:
            if self.synced and frame.epoch == self.epoch:
                self.phase = Phase.LIVE
                self.confirmed = True
                return Outcome.RECOVERED
            # Deltas would follow with no base to apply them to: start over instead.
            self.resync()
            return Outcome.GAP
        resumed = self.phase is Phase.AWAITING_SUBSCRIBED and self.resume_wanted and self.synced
        self.phase = Phase.AWAITING_SNAPSHOT
        return Outcome.NOT_RECOVERED if resumed else Outcome.SUBSCRIBED

    def on_snapshot(self, frame: Snapshot) -> Outcome:
        if self.phase is not Phase.AWAITING_SNAPSHOT:
            return Outcome.IGNORED
        self.phase = Phase.LIVE
        self.value = canonical(frame.data)
        self.epoch, self.seq = frame.epoch, frame.seq
        self._key = seq_key(frame.seq) if frame.seq is not None else None
        self.synced = self.confirmed = True
        return Outcome.SNAPSHOT

    def on_delta(self, frame: Delta) -> Outcome:
        if self.phase is not Phase.LIVE:
            return Outcome.IGNORED
        key = seq_key(frame.seq)
        if self.seq is None:
            # Nothing held yet (the channel had no value): only the first entry of a
            # history follows that, and it carries the whole value.
            if frame.prev_seq is not None:
                return Outcome.GAP
        elif frame.epoch != self.epoch:
            return Outcome.EPOCH
        elif self._key is not None and key <= self._key:
            return Outcome.DUPLICATE
        elif frame.prev_seq != self.seq:
            return Outcome.GAP
        self.value = apply_delta(self.value, frame.data)
        self.epoch, self.seq, self._key = frame.epoch, frame.seq, key
        return Outcome.DELTA
