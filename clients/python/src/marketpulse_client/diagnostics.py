"""Counters of what the stream did: for logs, dashboards and tests. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace


@dataclass
class Diagnostics:
    frames: int = 0  # every frame received, heartbeats included
    snapshots: int = 0  # snapshots applied
    deltas: int = 0  # deltas applied
    duplicates: int = 0  # deltas at or below the held seq, ignored
    ignored: int = 0  # frames of a subscription being replaced or left, ignored
    unsubscribes_repeated: int = 0  # channels left that the server still sent: told again
    gaps: int = 0  # deltas whose prev_seq was not the held seq
    epoch_changes: int = 0  # deltas of a new epoch (the server's history was lost)
    resyncs: int = 0  # fresh snapshots asked for after a gap or an epoch change
    resumes_recovered: int = 0  # resumes the server honoured (missed deltas, no snapshot)
    resumes_refused: int = 0  # resumes answered with a snapshot instead
    heartbeats: int = 0
    errors: int = 0  # `error` frames
    malformed: int = 0  # frames that were not the protocol's (skipped)
    connects: int = 0  # connections opened (the first and every reconnect)
    close_codes: Counter[int] = field(default_factory=Counter)  # how connections ended

    def copy(self) -> Diagnostics:
        """A frozen-in-time copy (the live object keeps counting)."""
        return replace(self, close_codes=Counter(self.close_codes))
