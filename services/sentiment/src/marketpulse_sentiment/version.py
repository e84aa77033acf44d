"""The `ver` a sentiment is published with: where its inputs stood in their streams.

The publisher drops a value whose ver is not greater than the stored one. A sentiment is
derived from the indicator, forecast and evaluation snapshots of every timeframe, so its ver
must grow whenever any of them moves on, and stay put when nothing did (the ticker and the
headlines are read too, but only a derived snapshot moving on makes a new reading). Window
times cannot do that: the 5m and 1h windows that both close at 10:00 would give the same
"newest" time, and the second event (a genuine change) would be dropped.

The snapshots' stream positions (`seq`, "<ms>-<n>", assigned by Redis when compute published
them) can. Redis issues them from its own clock, so a snapshot published after we last read
has a position at least as new as any we saw. The ver is

    newest_ms × 1024 + Σ (n + 1) over the snapshots published in that same millisecond

which grows when a later publish arrives (newest_ms grows) or another one lands in the same
millisecond (the sum grows), and is equal for an equal set of snapshots. Re-processing the
same cached state therefore publishes nothing, and a replica that read an older state can
never overwrite a newer one. (A Redis clock stepping backwards could hold the ver still
until the next publish; the following event repairs it.)
"""

from __future__ import annotations

from collections.abc import Iterable

# Lua compares ver as a double: newest_ms × 1024 stays below 2**53 until the year 2248.
_SAME_MS_SLOTS = 1024


def _position(entry_id: str) -> tuple[int, int]:
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def version_of(positions: Iterable[str]) -> int:
    """The ver of a value derived from snapshots at these stream positions (0 for none)."""
    parsed = [_position(p) for p in positions]
    if not parsed:
        return 0
    newest_ms = max(ms for ms, _ in parsed)
    same_ms = sum(n + 1 for ms, n in parsed if ms == newest_ms)
    return newest_ms * _SAME_MS_SLOTS + min(same_ms, _SAME_MS_SLOTS - 1)
