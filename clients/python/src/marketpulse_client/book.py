"""Every channel the client holds, and the frames that change them. Pure: no I/O.

The socket loop (stream.py) feeds each received text to `receive`, sends whatever `take_ops`
returns, and calls `connection_lost` when a connection ends; this module decides everything
else — what to subscribe, with which resume positions, what a frame does to a value, when
to ask for a fresh snapshot — and counts it all in `diagnostics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal

from marketpulse_client.channel import RESYNC, ChannelState, Outcome, Phase, SavedPosition
from marketpulse_client.diagnostics import Diagnostics
from marketpulse_client.errors import ChannelError
from marketpulse_client.frames import (
    MAX_CHANNELS_PER_OP,
    Delta,
    ErrorFrame,
    Heartbeat,
    MalformedFrame,
    Snapshot,
    Subscribed,
    parse_frame,
    subscribe_op,
    unsubscribe_op,
)

# Refusals that concern the whole subscribe op, not one channel, and pass: try again later.
RETRY_LATER = frozenset({"rate_limited", "unavailable"})
# Refusals of a whole subscribe that would be the same if it were sent again: its channels
# fail. bad_request is a bug (subscribe() and load_positions check what the gateway checks),
# but waiting for an answer that never comes would be worse.
FAIL_AWAITING = frozenset({"too_many_channels", "bad_request"})
# Frames of a channel the client no longer holds may still be in flight for a while after
# its unsubscribe; past this, they mean the server still holds it (the unsubscribe was
# refused, say as rate_limited, or crossed a subscribe's answer): it is told again.
STRAY_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class Update:
    """A channel's value after a snapshot or a delta was applied.

    `changed` is what the frame carried: the whole value for a snapshot, the changed
    top-level fields (null: removed) for a delta.
    """

    channel: str
    value: Any
    kind: Literal["snapshot", "delta"]
    epoch: str | None
    seq: str | None
    prev_seq: str | None
    changed: Any


class Signal(Enum):
    """What the socket loop should do after a frame, besides delivering its update."""

    NONE = "none"
    SEND = "send"  # ops are waiting to be sent (a resync)
    RETRY_LATER = "retry_later"  # a subscribe was refused for now: send again after a pause


@dataclass(frozen=True, slots=True)
class Received:
    update: Update | None = None
    signal: Signal = Signal.NONE
    failures: tuple[ChannelError, ...] = ()
    error: ErrorFrame | None = None
    # A subscribe was accepted: refused subscribes that follow start their retries over.
    accepted: bool = False


_NOTHING = Received()
_SEND = Received(signal=Signal.SEND)


class ChannelBook:
    def __init__(
        self,
        saved: Mapping[str, SavedPosition] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._saved = dict(saved or {})
        self._states: dict[str, ChannelState] = {}
        self._unsubscribes: list[str] = []
        # When each channel not held was last unsubscribed on this connection.
        self._told: dict[str, float] = {}
        self._clock = clock
        self.diagnostics = Diagnostics()

    def __contains__(self, channel: str) -> bool:
        return channel in self._states

    def __iter__(self) -> Iterator[ChannelState]:
        return iter(self._states.values())

    def get(self, channel: str) -> ChannelState | None:
        return self._states.get(channel)

    def add(self, channel: str) -> ChannelState:
        """Hold `channel` (no-op when held); a saved position for it is used to resume."""
        state = self._states.get(channel)
        if state is None:
            state = self._states[channel] = ChannelState(channel, self._saved.pop(channel, None))
            if channel in self._unsubscribes:
                self._unsubscribes.remove(channel)
        return state

    def remove(self, channel: str) -> None:
        """Stop holding `channel`; the server is told if it was subscribed there."""
        state = self._states.pop(channel, None)
        if state is not None and state.held:  # even while waiting to resync: still held there
            self._unsubscribes.append(channel)

    def positions(self) -> dict[str, SavedPosition]:
        """Where every channel stands (channels without a value yet are left out)."""
        held = {name: p for name, s in self._states.items() if (p := s.position())}
        return {**self._saved, **held}

    @property
    def has_ops(self) -> bool:
        return bool(self._unsubscribes) or any(s.phase is Phase.WANT for s in self._states.values())

    def take_ops(self) -> list[str]:
        """The messages to send now: unsubscribes, then subscribes (resuming where possible),
        at most MAX_CHANNELS_PER_OP channels per message."""
        ops = [
            unsubscribe_op(self._unsubscribes[i : i + MAX_CHANNELS_PER_OP])
            for i in range(0, len(self._unsubscribes), MAX_CHANNELS_PER_OP)
        ]
        now = self._clock()
        self._told.update(dict.fromkeys(self._unsubscribes, now))
        self._unsubscribes.clear()
        wanted = [s for s in self._states.values() if s.phase is Phase.WANT]
        for i in range(0, len(wanted), MAX_CHANNELS_PER_OP):
            chunk = wanted[i : i + MAX_CHANNELS_PER_OP]
            resume = {s.name: pos for s in chunk if (pos := s.request()) is not None}
            ops.append(subscribe_op([s.name for s in chunk], resume))
        return ops

    def connection_lost(self) -> None:
        """A connection ended: everything is subscribed again (resuming) on the next one."""
        self._unsubscribes.clear()  # the server forgot them with the connection
        self._told.clear()
        for state in self._states.values():
            state.connection_lost()

    def receive(self, text: str | bytes) -> Received:
        """Apply one server frame."""
        self.diagnostics.frames += 1
        try:
            frame = parse_frame(text)
        except MalformedFrame:
            self.diagnostics.malformed += 1
            return _NOTHING
        if isinstance(frame, Delta):
            return self._delta(frame)
        if isinstance(frame, Heartbeat):
            self.diagnostics.heartbeats += 1
            return _NOTHING
        if isinstance(frame, Snapshot):
            return self._snapshot(frame)
        if isinstance(frame, Subscribed):
            return self._subscribed(frame)
        if isinstance(frame, ErrorFrame):
            return self._error(frame)
        return _NOTHING  # pong, or a frame type added after this client

    def _delta(self, frame: Delta) -> Received:
        state = self._states.get(frame.channel)
        if state is None:
            return self._stray(frame.channel)
        try:
            outcome = state.on_delta(frame)
        except ValueError:  # a seq that is not a stream position: not one of the gateway's
            self.diagnostics.malformed += 1
            outcome = Outcome.GAP
        if outcome is Outcome.DELTA:
            self.diagnostics.deltas += 1
            update = Update(
                frame.channel, state.value, "delta", state.epoch, state.seq, frame.prev_seq,
                frame.data,
            )  # fmt: skip
            return Received(update)
        return self._other(state, outcome)

    def _snapshot(self, frame: Snapshot) -> Received:
        state = self._states.get(frame.channel)
        if state is None:
            return self._stray(frame.channel)
        try:
            outcome = state.on_snapshot(frame)
        except ValueError:
            self.diagnostics.malformed += 1
            state.resync()
            return _SEND
        if outcome is not Outcome.SNAPSHOT:
            return self._other(state, outcome)
        self.diagnostics.snapshots += 1
        update = Update(frame.channel, state.value, "snapshot", state.epoch, state.seq, None,
                        frame.data)  # fmt: skip
        return Received(update)

    def _subscribed(self, frame: Subscribed) -> Received:
        state = self._states.get(frame.channel)
        if state is None:
            return self._stray(frame.channel)
        return replace(self._other(state, state.on_subscribed(frame)), accepted=True)

    def _stray(self, channel: str) -> Received:
        """A frame of a channel not held: in flight since its unsubscribe, or the server still
        holds it; then it is unsubscribed again, at most once per STRAY_GRACE_S."""
        self.diagnostics.ignored += 1
        told = self._told.get(channel)
        if channel in self._unsubscribes or (
            told is not None and self._clock() - told < STRAY_GRACE_S
        ):
            return _NOTHING
        self.diagnostics.unsubscribes_repeated += 1
        self._unsubscribes.append(channel)
        return _SEND

    def _other(self, state: ChannelState, outcome: Outcome) -> Received:
        d = self.diagnostics
        if outcome is Outcome.DUPLICATE:
            d.duplicates += 1
        elif outcome is Outcome.IGNORED:
            d.ignored += 1
        elif outcome is Outcome.RECOVERED:
            d.resumes_recovered += 1
        elif outcome is Outcome.NOT_RECOVERED:
            d.resumes_refused += 1
        elif outcome in RESYNC:
            if outcome is Outcome.GAP:
                d.gaps += 1
            else:
                d.epoch_changes += 1
            d.resyncs += 1
            state.resync()
            return _SEND
        return _NOTHING

    def _error(self, frame: ErrorFrame) -> Received:
        self.diagnostics.errors += 1
        if frame.channel is not None and frame.channel in self._states:
            # The gateway refused this channel for good (unknown_channel): stop holding it.
            del self._states[frame.channel]
            failure = ChannelError(frame.channel, frame.code, frame.message)
            return Received(failures=(failure,), error=frame)
        # The answer to a whole op: the subscribe it names, or (an older gateway names none)
        # every subscribe still unanswered, since ops are answered in order.
        awaiting = [
            s
            for s in self._states.values()
            if s.phase is Phase.AWAITING_SUBSCRIBED
            and (frame.channels is None or s.name in frame.channels)
        ]
        if frame.code in RETRY_LATER:
            for state in awaiting:
                state.phase = Phase.WANT  # resume_wanted unchanged: a resume is still fine
            return Received(signal=Signal.RETRY_LATER, error=frame)
        if frame.code in FAIL_AWAITING:
            for state in awaiting:
                del self._states[state.name]
            failures = tuple(ChannelError(s.name, frame.code, frame.message) for s in awaiting)
            return Received(failures=failures, error=frame)
        return Received(error=frame)  # unknown_op, or a code added later: reported, not fatal
